//! `BannedSequences`: a logits processor under which the completion text can never contain a
//! banned phrase, however the model spells it in tokens.
//!
//! Banning token-id sequences is not enough: "Paris" may come out as `Paris`, `Par`+`is`,
//! `P`+`aris`... Instead the phrases are compiled into one byte-level Aho-Corasick automaton,
//! and every token's byte string (see [`token_bytes`]) is a path through it. The processor
//! tracks the automaton state at the end of the text generated so far and, at each step,
//! forbids every token whose bytes would drive it into a match state.
//!
//! Cost: tokens that contain a whole phrase are found once, at construction. While the text
//! does not end inside a partial match (the automaton is at its start state) nothing else can
//! complete a phrase, so a step only re-applies that fixed set; otherwise each token is walked
//! until it leaves the partial match (usually its first byte).

use aho_corasick::automaton::{Automaton, StateID};
use aho_corasick::dfa::DFA;
use aho_corasick::{Anchored, MatchKind};
use tokenizers::Tokenizer;

use super::LogitsProcessor;
use crate::tokenizer::bytes::token_bytes;

/// Forbids any token that would complete one of the banned phrases in the completion text.
pub struct BannedSequences {
    dfa: DFA,
    start: StateID,
    token_bytes: Vec<Vec<u8>>,
    /// Tokens whose own bytes contain a banned phrase.
    always_banned: Vec<u32>,
    state: StateID,
    /// The completion the state was computed from.
    seen: Vec<u32>,
}

impl std::fmt::Debug for BannedSequences {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BannedSequences")
            .field("always_banned", &self.always_banned.len())
            .field("seen", &self.seen.len())
            .finish_non_exhaustive()
    }
}

/// Why a [`BannedSequences`] could not be built.
#[derive(Debug, thiserror::Error)]
pub enum BannedSequencesError {
    /// An empty phrase would ban everything.
    #[error("banned phrase #{index} is empty\n  fix: remove empty phrases")]
    EmptyPhrase {
        /// Position in the list.
        index: usize,
    },
    /// The automaton could not be built (too many or too long phrases).
    #[error("cannot compile the banned phrases: {reason}\n  fix: use fewer or shorter phrases")]
    Build {
        /// aho-corasick's message.
        reason: String,
    },
}

impl BannedSequences {
    /// Bans `phrases` for the vocabulary of `tokenizer`. With `ascii_case_insensitive`,
    /// `paris` also bans `PARIS` and `Paris` (ASCII letters only).
    pub fn new<S: AsRef<str>>(
        tokenizer: &Tokenizer,
        phrases: &[S],
        ascii_case_insensitive: bool,
    ) -> Result<Self, BannedSequencesError> {
        Self::from_token_bytes(token_bytes(tokenizer), phrases, ascii_case_insensitive)
    }

    /// Bans `phrases` given each token's bytes (index = token id).
    pub fn from_token_bytes<S: AsRef<str>>(
        token_bytes: Vec<Vec<u8>>,
        phrases: &[S],
        ascii_case_insensitive: bool,
    ) -> Result<Self, BannedSequencesError> {
        if let Some(index) = phrases.iter().position(|p| p.as_ref().is_empty()) {
            return Err(BannedSequencesError::EmptyPhrase { index });
        }
        let build_error = |reason: String| BannedSequencesError::Build { reason };
        let dfa = DFA::builder()
            .match_kind(MatchKind::Standard)
            .ascii_case_insensitive(ascii_case_insensitive)
            .start_kind(aho_corasick::StartKind::Unanchored)
            .build(phrases.iter().map(|p| p.as_ref().as_bytes()))
            .map_err(|e| build_error(e.to_string()))?;
        let start = dfa
            .start_state(Anchored::No)
            .map_err(|e| build_error(e.to_string()))?;
        let mut banned = Self {
            dfa,
            start,
            token_bytes,
            always_banned: Vec::new(),
            state: start,
            seen: Vec::new(),
        };
        banned.always_banned = (0..banned.token_bytes.len())
            .filter_map(|id| u32::try_from(id).ok())
            .filter(|&id| banned.completes_from(start, id))
            .collect();
        Ok(banned)
    }

    /// Whether feeding token `id` from state `sid` reaches a match.
    fn completes_from(&self, sid: StateID, id: u32) -> bool {
        let Some(bytes) = self.token_bytes.get(id as usize) else {
            return false;
        };
        let mut s = sid;
        for &b in bytes {
            s = self.dfa.next_state(Anchored::No, s, b);
            if self.dfa.is_match(s) {
                return true;
            }
        }
        false
    }

    /// Like [`completes_from`](Self::completes_from) for a non-start state, but stops as soon
    /// as the walk falls back to the start state (the rest is covered by `always_banned`).
    fn continues_into_match(&self, id: u32) -> bool {
        let Some(bytes) = self.token_bytes.get(id as usize) else {
            return false;
        };
        let mut s = self.state;
        for &b in bytes {
            s = self.dfa.next_state(Anchored::No, s, b);
            if self.dfa.is_match(s) {
                return true;
            }
            if s == self.start {
                return false;
            }
        }
        false
    }

    fn advance(&mut self, generated: &[u32]) {
        if !generated.starts_with(&self.seen) {
            // Not a continuation of the text seen so far (a new generation): start over.
            self.state = self.start;
            self.seen.clear();
        }
        for &id in &generated[self.seen.len()..] {
            if let Some(bytes) = self.token_bytes.get(id as usize) {
                for &b in bytes {
                    self.state = self.dfa.next_state(Anchored::No, self.state, b);
                }
            }
        }
        self.seen.clear();
        self.seen.extend_from_slice(generated);
    }

    /// Number of tokens that are banned whatever precedes them.
    pub fn always_banned_count(&self) -> usize {
        self.always_banned.len()
    }
}

impl LogitsProcessor for BannedSequences {
    fn process(&mut self, generated: &[u32], logits: &mut [f32]) {
        self.advance(generated);
        for &id in &self.always_banned {
            if let Some(l) = logits.get_mut(id as usize) {
                *l = f32::NEG_INFINITY;
            }
        }
        if self.state == self.start {
            return;
        }
        let limit = logits.len().min(self.token_bytes.len());
        for (id, l) in logits.iter_mut().enumerate().take(limit) {
            if *l != f32::NEG_INFINITY
                && let Ok(id) = u32::try_from(id)
                && self.continues_into_match(id)
            {
                *l = f32::NEG_INFINITY;
            }
        }
    }
}

#[cfg(test)]
mod tests;
