//! "Could a candidate still be in progress here?" automata for streaming.

use regex_automata::hybrid::dfa::{Cache, DFA};
use regex_automata::util::start;
use regex_automata::util::syntax;
use regex_automata::{Anchored, MatchKind};

/// A lazy DFA that recognises, anchored at any position, every prefix of a detector's
/// candidates. Started at position `s` and fed the text up to the end of what has arrived, it is
/// *dead* exactly when no candidate starting at `s` can be extended by future text.
#[derive(Debug)]
pub struct Liveness {
    dfa: DFA,
}

impl Liveness {
    /// Builds the automaton from regex patterns (the detector's own patterns, or over-approximations
    /// of them), compiled with `syntax`.
    pub fn new<P: AsRef<str>>(patterns: &[P], syntax: syntax::Config) -> Result<Self, String> {
        let dfa = DFA::builder()
            .syntax(syntax.utf8(false))
            .configure(
                DFA::config()
                    .match_kind(MatchKind::All)
                    .unicode_word_boundary(true),
            )
            .build_many(patterns)
            .map_err(|e| e.to_string())?;
        Ok(Liveness { dfa })
    }

    /// A fresh search cache; each stream owns one per detector.
    pub fn create_cache(&self) -> Cache {
        self.dfa.create_cache()
    }

    /// The earliest character boundary `s >= from` of `hay` such that a candidate starting at `s`
    /// may still be in progress at the end of `hay`; `hay.len()` if there is none. When the
    /// automaton cannot decide (a non-ASCII byte next to a Unicode word boundary, say), the
    /// position counts as live.
    pub fn earliest_live(&self, cache: &mut Cache, hay: &str, from: usize) -> usize {
        let bytes = hay.as_bytes();
        let mut s = from;
        while s < bytes.len() {
            if hay.is_char_boundary(s) && self.live_at(cache, bytes, s) {
                return s;
            }
            s += 1;
        }
        bytes.len()
    }

    fn live_at(&self, cache: &mut Cache, bytes: &[u8], s: usize) -> bool {
        let look_behind = s.checked_sub(1).and_then(|i| bytes.get(i).copied());
        let config = start::Config::new()
            .anchored(Anchored::Yes)
            .look_behind(look_behind);
        let Ok(mut sid) = self.dfa.start_state(cache, &config) else {
            return true;
        };
        for &b in &bytes[s..] {
            match self.dfa.next_state(cache, sid, b) {
                Ok(next) => sid = next,
                Err(_) => return true,
            }
            if sid.is_dead() {
                return false;
            }
            if sid.is_quit() {
                return true;
            }
        }
        !sid.is_dead()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn live(patterns: &[&str], hay: &str) -> usize {
        let l = Liveness::new(patterns, syntax::Config::new()).expect("builds");
        let mut cache = l.create_cache();
        l.earliest_live(&mut cache, hay, 0)
    }

    #[test]
    fn pending_word_is_live() {
        assert_eq!(live(&[r"[a-z]+@[a-z]+\.com"], "write to bob"), 9);
        assert_eq!(live(&[r"[a-z]+@[a-z]+\.com"], "write to bob@ex"), 9);
        assert_eq!(live(&[r"[a-z]+@[a-z]+\.com"], "write to bob "), 13);
    }

    #[test]
    fn complete_match_waits_for_lookahead() {
        // "cat" at the end could still be followed by a word character; matches are seen one
        // byte late, so the start stays live until the byte after the boundary arrives.
        assert_eq!(live(&[r"\bcat\b"], "a cat"), 2);
        assert_eq!(live(&[r"\bcat\b"], "a cat "), 2);
        assert_eq!(live(&[r"\bcat\b"], "a cat x"), 7);
    }
}
