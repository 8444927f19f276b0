//! Finds placeholders of a [`RedactionVault`] in the model's output so the stream can restore
//! their originals.

use std::sync::Arc;

use regex_automata::Input;
use regex_automata::meta::Regex;

use super::{Candidate, Detector, Liveness};
use crate::normalize::ViewKind;
use crate::vault::{MAX_PLACEHOLDER_LEN, RedactionVault};

const PLACEHOLDER: &str = r"\[[A-Z][A-Z0-9_]{0,40}_[0-9]{1,6}\]";

/// Matches placeholder-shaped text on the original view; the engine restores those that the
/// vault marks restorable.
#[derive(Debug)]
pub struct RestoreDetector {
    kinds: [Arc<str>; 1],
    regex: Regex,
    liveness: Liveness,
}

impl RestoreDetector {
    /// A detector if `vault` has at least one restorable placeholder.
    pub fn from_vault(vault: &RedactionVault) -> Option<RestoreDetector> {
        if !vault.entries().iter().any(|e| e.restore) {
            return None;
        }
        let regex = Regex::new(PLACEHOLDER).ok()?;
        let liveness =
            Liveness::new(&[PLACEHOLDER], regex_automata::util::syntax::Config::new()).ok()?;
        Some(RestoreDetector {
            kinds: [Arc::from("restore")],
            regex,
            liveness,
        })
    }
}

impl Detector for RestoreDetector {
    fn kinds(&self) -> &[Arc<str>] {
        &self.kinds
    }

    fn view(&self) -> ViewKind {
        ViewKind::Original
    }

    fn max_len(&self) -> usize {
        MAX_PLACEHOLDER_LEN
    }

    fn next(&self, hay: &str, from: usize) -> Option<Candidate> {
        if from > hay.len() {
            return None;
        }
        let m = self.regex.find(Input::new(hay).range(from..))?;
        Some(Candidate::whole(m.start(), m.end(), 0, 1.0))
    }

    fn liveness(&self) -> Option<&Liveness> {
        Some(&self.liveness)
    }
}
