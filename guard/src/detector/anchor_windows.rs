//! Anchors: literals one of which every match of a pattern set contains. The set's automaton
//! then runs only in windows around the anchors' occurrences, found with a packed (SIMD)
//! literal search, instead of over the whole text: text without any anchor, the usual case for
//! injection phrases, costs one literal scan.
//!
//! For a set whose matches are at most `max_len` bytes long, a match containing an occurrence
//! `[s, e)` starts at or after `e - max_len` and ends by `s + max_len`. The leftmost match at or
//! after `from` contains some occurrence at or after `from`, so it is found by searching the
//! window of the first such occurrence, and accepted only if it starts by `s` (a match further
//! right may cross the window's end; it is found from a later occurrence). Where occurrences
//! crowd together, windows would overlap and scan the text again and again: then the automaton
//! simply runs on from `from`, as it would without anchors.

use aho_corasick::{AhoCorasick, MatchKind};
use regex_automata::meta::Regex;
use regex_automata::{Input, Match};

/// A packed literal search handles at most this many literals at full speed.
const LITERALS_PER_SEARCHER: usize = 64;

/// The most leading bytes by which a packed literal search fingerprints its literals.
const WIDEST_FINGERPRINT: usize = 4;

/// Occurrences are looked for in chunks that start this long and double up to [`MAX_CHUNK`], so
/// that a call whose next occurrence is near scans little more than the distance to it, with
/// every searcher.
const FIRST_CHUNK: usize = 256;
const MAX_CHUNK: usize = 64 * 1024;

/// Finds the anchors of a pattern set.
#[derive(Debug, Clone)]
pub struct Anchors {
    searchers: Vec<AhoCorasick>,
    longest: usize,
}

impl Anchors {
    /// Anchors for `literals` (found case-sensitively; none empty).
    pub fn new(literals: &[String]) -> Result<Self, String> {
        if literals.iter().any(String::is_empty) {
            return Err("an empty anchor would occur everywhere".into());
        }
        let mut unique: Vec<&String> = literals.iter().collect();
        unique.sort();
        unique.dedup();
        // Short literals get searchers of their own: a packed searcher fingerprints every literal
        // by as many leading bytes as its shortest one has, and a narrower fingerprint turns up
        // in ordinary text far more often (each time costing a check of the candidates).
        let (long, short): (Vec<&String>, Vec<&String>) = unique
            .into_iter()
            .partition(|l| l.len() >= WIDEST_FINGERPRINT);
        let searchers = long
            .chunks(LITERALS_PER_SEARCHER)
            .chain(short.chunks(LITERALS_PER_SEARCHER))
            .map(|chunk| {
                AhoCorasick::builder()
                    .match_kind(MatchKind::LeftmostFirst)
                    .build(chunk)
                    .map_err(|e| e.to_string())
            })
            .collect::<Result<Vec<_>, _>>()?;
        let longest = literals.iter().map(String::len).max().unwrap_or(0);
        Ok(Anchors { searchers, longest })
    }

    /// The leftmost occurrence `(start, end)` of an anchor starting at or after `at`.
    pub fn first(&self, hay: &[u8], mut at: usize) -> Option<(usize, usize)> {
        let mut chunk = FIRST_CHUNK;
        while at < hay.len() {
            let chunk_end = hay.len().min(at.saturating_add(chunk));
            let mut best: Option<(usize, usize)> = None;
            for searcher in &self.searchers {
                // An occurrence starting before the best one ends within this span.
                let span_end = match best {
                    Some((start, _)) => start + self.longest,
                    None => chunk_end + self.longest,
                }
                .min(hay.len());
                let span = aho_corasick::Input::new(hay).span(at..span_end);
                if let Some(m) = searcher.find(span)
                    && m.start() < chunk_end
                    && best.is_none_or(|(start, _)| m.start() < start)
                {
                    best = Some((m.start(), m.end()));
                }
            }
            if best.is_some() {
                return best;
            }
            at = chunk_end;
            chunk = (chunk * 2).min(MAX_CHUNK);
        }
        None
    }
}

/// The leftmost match of `regex` (whose matches are at most `max_len` bytes long and each
/// contain one of `anchors`) at or after `from`, searched in windows around the anchors'
/// occurrences (see the module documentation).
pub(crate) fn find_around(
    anchors: &Anchors,
    regex: &Regex,
    hay: &[u8],
    from: usize,
    max_len: usize,
) -> Option<Match> {
    let mut at = from;
    let mut searched_to = from;
    loop {
        let (s, e) = anchors.first(hay, at)?;
        let lo = from.max(e.saturating_sub(max_len));
        let hi = hay.len().min(s.saturating_add(max_len));
        if lo < searched_to {
            // Occurrences crowd together: windows would overlap. Search on from `from`.
            return regex.find(Input::new(hay).range(from..));
        }
        if let Some(m) = regex.search(&Input::new(hay).range(lo..hi))
            && m.start() <= s
        {
            return Some(m);
        }
        searched_to = hi;
        at = s + 1;
    }
}

/// Checks that every match of `pattern` (compiled with `syntax`) contains one of `anchors`: a
/// search over pairs of states of the pattern's DFA and the anchors' DFA, from every start, for
/// a match reached before any anchor. Used by tests to prove the phrase tables' anchors.
#[cfg(test)]
pub(crate) fn verify(
    pattern: &str,
    anchors: &[String],
    syntax: regex_automata::util::syntax::Config,
) -> Result<(), String> {
    use std::collections::HashSet;

    use regex_automata::dfa::{Automaton, StartKind, dense};
    use regex_automata::util::primitives::StateID;
    use regex_automata::util::start;
    use regex_automata::{Anchored, MatchKind as RegexMatchKind};

    let p = dense::Builder::new()
        .configure(
            dense::Config::new()
                .start_kind(StartKind::Anchored)
                .match_kind(RegexMatchKind::All),
        )
        .syntax(syntax)
        .build(pattern)
        .map_err(|e| e.to_string())?;
    let quoted: Vec<String> = anchors.iter().map(|a| regex_syntax::escape(a)).collect();
    let a = dense::Builder::new()
        .configure(
            dense::Config::new()
                .start_kind(StartKind::Unanchored)
                .match_kind(RegexMatchKind::All),
        )
        .build_many(&quoted)
        .map_err(|e| e.to_string())?;
    let a_start = a
        .start_state(&start::Config::new().anchored(Anchored::No))
        .map_err(|e| e.to_string())?;
    let mut seen: HashSet<(StateID, StateID)> = HashSet::new();
    let mut queue: Vec<(StateID, StateID)> = Vec::new();
    for behind in [None, Some(b' '), Some(b'a'), Some(0xC3)] {
        let cfg = start::Config::new()
            .anchored(Anchored::Yes)
            .look_behind(behind);
        let ps = p.start_state(&cfg).map_err(|e| e.to_string())?;
        if seen.insert((ps, a_start)) {
            queue.push((ps, a_start));
        }
    }
    while let Some((ps, as_)) = queue.pop() {
        let (pe, ae) = (p.next_eoi_state(ps), a.next_eoi_state(as_));
        if p.is_match_state(pe) && !a.is_match_state(ae) {
            return Err(format!(
                "`{pattern}` matches at the end of a text without an anchor"
            ));
        }
        for byte in 0..=255u8 {
            let (pn, an) = (p.next_state(ps, byte), a.next_state(as_, byte));
            if p.is_dead_state(pn) || a.is_match_state(an) {
                continue;
            }
            if p.is_match_state(pn) {
                return Err(format!(
                    "`{pattern}` has a match without any of {anchors:?}"
                ));
            }
            if seen.insert((pn, an)) {
                queue.push((pn, an));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lits(l: &[&str]) -> Vec<String> {
        l.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn the_first_occurrence_is_found_across_chunks_and_searchers() {
        let many: Vec<String> = (0..100).map(|i| format!("w{i:03}x")).collect();
        let anchors = Anchors::new(&many).expect("anchors");
        let hay = format!("{}w099x and w001x", "-".repeat(5000));
        let at = 5000;
        assert_eq!(anchors.first(hay.as_bytes(), 0), Some((at, at + 5)));
        assert_eq!(
            anchors.first(hay.as_bytes(), at + 1),
            Some((at + 10, at + 15))
        );
        assert_eq!(anchors.first(hay.as_bytes(), at + 11), None);
    }

    #[test]
    fn an_empty_anchor_is_refused() {
        let err = Anchors::new(&lits(&["mode", ""])).expect_err("empty");
        assert!(err.contains("empty anchor"), "{err}");
    }

    #[test]
    fn verification_finds_a_match_without_an_anchor() {
        let syntax = regex_automata::util::syntax::Config::new();
        assert!(verify("ignore (all|any) rules", &lits(&["rules"]), syntax).is_ok());
        assert!(verify("ignore (all|any) (rules|laws)", &lits(&["rules"]), syntax).is_err());
        assert!(verify("(?-u:\\b)ab(?-u:\\b)", &lits(&["ab"]), syntax).is_ok());
        assert!(verify("x?rule", &lits(&["xrule"]), syntax).is_err());
    }
}
