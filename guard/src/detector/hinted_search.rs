//! A leftmost-first search that skips text with a [`StartHint`] every time the automaton is back
//! in its start state, not only once before it starts.
//!
//! A pattern set whose matches may start at many letters (an e-mail address's local part, an
//! IBAN's country code) gets no literal prefilter from the regex engine, so the engine runs its
//! automaton over every byte. A hint that knows where a match can start (next to a digit or an
//! `@`, say) lets the search jump over the text in between, and the automaton only reads the
//! neighbourhood of those bytes.
//!
//! The search is the one the lazy DFA does itself with a literal prefilter (forward for the
//! match's end, then backward from it for its start), with the hint in the prefilter's place.

use regex_automata::hybrid::LazyStateID;
use regex_automata::hybrid::dfa::{Cache, DFA};
use regex_automata::hybrid::regex::Regex;
use regex_automata::util::pool::Pool;
use regex_automata::util::syntax;
use regex_automata::{Anchored, HalfMatch, Input, Match, MatchError, Span};

use super::pattern_set::{LAZY_DFA_CACHE_BYTES, MakeCache, StartHint, lazy_dfa_config};

/// The caches of the forward and the reverse DFA.
type Caches = (Cache, Cache);

/// Forward and reverse lazy DFAs of a pattern set, searched with a [`StartHint`].
pub(crate) struct HintedSearch {
    /// Finds where the leftmost-first match ends.
    forward: DFA,
    /// Finds where it starts, searching back from its end.
    reverse: DFA,
    /// Caches reused between calls, one per thread at a time.
    caches: Pool<Caches, MakeCache<Caches>>,
}

impl HintedSearch {
    /// Compiles `sources` (leftmost-first, in priority order) with `syntax`.
    pub(crate) fn new(sources: &[String], syntax: syntax::Config) -> Result<Self, String> {
        Self::with_cache_bytes(sources, syntax, LAZY_DFA_CACHE_BYTES)
    }

    /// As [`HintedSearch::new`], with caches of `cache_bytes` (tests make them small enough to
    /// be cleared during a search).
    fn with_cache_bytes(
        sources: &[String],
        syntax: syntax::Config,
        cache_bytes: usize,
    ) -> Result<Self, String> {
        let regex = Regex::builder()
            .syntax(syntax)
            .dfa(
                lazy_dfa_config(cache_bytes)
                    .skip_cache_capacity_check(true)
                    // Start states are tagged, so the search sees when to ask the hint again.
                    .specialize_start_states(true),
            )
            .build_many(sources)
            .map_err(|e| e.to_string())?;
        let (forward, reverse) = (regex.forward().clone(), regex.reverse().clone());
        let (f, r) = (forward.clone(), reverse.clone());
        let create: MakeCache<Caches> = Box::new(move || (f.create_cache(), r.create_cache()));
        Ok(HintedSearch {
            forward,
            reverse,
            caches: Pool::new(create),
        })
    }

    /// The leftmost-first match at or after `from`, where `hint` never skips a possible start.
    /// An error means the lazy DFA gave up (it does not with these settings); the caller then
    /// searches some other way.
    pub(crate) fn find(
        &self,
        hint: StartHint,
        hay: &str,
        from: usize,
    ) -> Result<Option<Match>, MatchError> {
        let mut caches = self.caches.get();
        let (forward, reverse) = &mut *caches;
        let Some((end, restart)) = self.find_end(forward, hint, hay, from)? else {
            return Ok(None);
        };
        // The match starts at or after the last point where the automaton was back in its start
        // state: searching backward from its end to there finds the start, as a search begun
        // there would.
        let back = Input::new(hay)
            .span(Span::from(restart..end.offset()))
            .anchored(Anchored::Yes);
        let start = self.reverse.try_search_rev(reverse, &back)?;
        Ok(start.map(|s| Match::new(end.pattern(), s.offset()..end.offset())))
    }

    /// The end of the leftmost-first match at or after `from`, and a position at or before its
    /// start where the automaton was in its start state.
    fn find_end(
        &self,
        cache: &mut Cache,
        hint: StartHint,
        hay: &str,
        from: usize,
    ) -> Result<Option<(HalfMatch, usize)>, MatchError> {
        let dfa = &self.forward;
        let bytes = hay.as_bytes();
        let Some(mut at) = hint(hay, from) else {
            return Ok(None);
        };
        let mut restart = at;
        // Unless a pattern starts with a look-around assertion, every position has the same
        // start state.
        let universal_start = dfa.get_nfa().look_set_prefix_any().is_empty();
        let mut sid = dfa.start_state_forward(cache, &Input::new(hay).range(at..))?;
        // The last match state seen, where it was seen, the restart point before it and the
        // cache's clear count then: which pattern matched is looked up once, at the end.
        let mut found: Option<(LazyStateID, usize, usize, usize)> = None;
        let gave_up = |at: usize| MatchError::gave_up(at);
        let resolve = |cache: &Cache, found: Option<(LazyStateID, usize, usize, usize)>| {
            let Some((state, end, restart, clears)) = found else {
                return Ok(None);
            };
            // A cleared cache numbers its states anew: the state is gone (and the caller
            // searches some other way).
            if cache.clear_count() != clears {
                return Err(gave_up(end));
            }
            let pattern = dfa.match_pattern(cache, state, 0);
            Ok(Some((HalfMatch::new(pattern, end), restart)))
        };
        while at < bytes.len() {
            // Untagged states (no match, not the start, not dead) are by far the most common:
            // a tight loop over them.
            if !sid.is_tagged() {
                while let Some(&byte) = bytes.get(at) {
                    let next = dfa.next_state_untagged(cache, sid, byte);
                    if next.is_tagged() {
                        break;
                    }
                    sid = next;
                    at += 1;
                }
            }
            let Some(&byte) = bytes.get(at) else {
                break;
            };
            let next = dfa.next_state(cache, sid, byte).map_err(|_| gave_up(at))?;
            if next.is_start() {
                // Nothing is in progress: no match starts at or before `at`.
                if found.is_none() {
                    let Some(q) = hint(hay, at + 1) else {
                        return Ok(None);
                    };
                    restart = q;
                    at = q;
                    sid = if universal_start {
                        next
                    } else {
                        dfa.start_state_forward(cache, &Input::new(hay).range(q..))?
                    };
                    continue;
                }
            } else if next.is_match() {
                found = Some((next, at, restart, cache.clear_count()));
            } else if next.is_dead() {
                return resolve(cache, found);
            } else if next.is_quit() {
                return Err(MatchError::quit(byte, at));
            }
            sid = next;
            at += 1;
        }
        let last = dfa
            .next_eoi_state(cache, sid)
            .map_err(|_| gave_up(bytes.len()))?;
        if last.is_match() {
            found = Some((last, bytes.len(), restart, cache.clear_count()));
        }
        resolve(cache, found)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every position may start a match: the hint skips nothing.
    fn no_hint(_: &str, from: usize) -> Option<usize> {
        Some(from)
    }

    #[test]
    fn finds_what_the_full_engine_finds_even_with_a_cache_cleared_on_the_way() {
        let sources: Vec<String> = [
            r"[a-z0-9.]{1,20}@[a-z]{1,20}\.(?:com|org)",
            r"[0-9]{3}[ -]?[0-9]{3}[ -]?[0-9]{4}",
            r"[a-z]{2}[0-9]{2}(?: ?[a-z0-9]){8,20}",
        ]
        .map(String::from)
        .to_vec();
        let syntax = syntax::Config::new();
        let full = regex_automata::meta::Regex::new_many(&sources).expect("compiles");
        let piece = |i: usize| {
            [
                "mail jo.doe@example.org ",
                "call 415-555-2671 ",
                "de89 3704 0044 0532 ",
                "x1 y2 ",
            ][i % 4]
        };
        let hay: String = (0..400).map(|i| piece(i * 7 % 11)).collect();
        for cache_bytes in [LAZY_DFA_CACHE_BYTES, 0] {
            let hinted =
                HintedSearch::with_cache_bytes(&sources, syntax, cache_bytes).expect("compiles");
            let mut gave_up = 0;
            for from in (0..hay.len()).step_by(13) {
                match hinted.find(no_hint, &hay, from) {
                    Ok(found) => {
                        assert_eq!(
                            found,
                            full.find(Input::new(&hay).range(from..)),
                            "at {from}"
                        );
                    }
                    Err(_) => gave_up += 1,
                }
            }
            // A roomy cache never gives up, nor is it cleared; a tiny one is cleared again and
            // again, and a search that cannot trust a state from before a clearing says so.
            let clears = hinted.caches.get().0.clear_count();
            assert_eq!(clears == 0, cache_bytes > 0, "cleared {clears} times");
            if cache_bytes > 0 {
                assert_eq!(gave_up, 0);
            }
        }
    }
}
