//! The `keywords` detector: Aho-Corasick over normalised keyword lists.

use std::sync::Arc;

use aho_corasick::{AhoCorasick, Input, MatchKind};

use super::{Candidate, Detector, Liveness, char_at, char_before, is_word_char};
use crate::normalize::{ViewKind, normalize_str};

/// A compiled `keywords` rule.
#[derive(Debug)]
pub struct KeywordsDetector {
    kinds: [Arc<str>; 1],
    ac: AhoCorasick,
    liveness: Liveness,
    whole_word: bool,
    view: ViewKind,
    max_len: usize,
}

impl KeywordsDetector {
    /// Compiles a keyword list. Keywords are normalised like the text (and lower-cased unless
    /// `case_sensitive`); empty entries are ignored. `kind` is `keyword.<list>`.
    pub fn new(
        kind: &str,
        words: &[String],
        whole_word: bool,
        case_sensitive: bool,
    ) -> Result<Self, String> {
        let mut norm: Vec<String> = words
            .iter()
            .map(|w| normalize_str(w.trim(), !case_sensitive))
            .filter(|w| !w.is_empty())
            .collect();
        norm.sort();
        norm.dedup();
        if norm.is_empty() {
            return Err("the keyword list is empty".to_owned());
        }
        let max_len = norm.iter().map(String::len).max().unwrap_or(0);
        let ac = AhoCorasick::builder()
            .match_kind(MatchKind::LeftmostLongest)
            .build(&norm)
            .map_err(|e| e.to_string())?;
        let escaped: Vec<String> = norm.iter().map(|w| regex_syntax::escape(w)).collect();
        let liveness = Liveness::new(
            &escaped,
            regex_automata::util::syntax::Config::new().unicode(false),
        )?;
        Ok(KeywordsDetector {
            kinds: [Arc::from(kind)],
            ac,
            liveness,
            whole_word,
            view: if case_sensitive {
                ViewKind::Folded
            } else {
                ViewKind::Lower
            },
            max_len,
        })
    }
}

impl Detector for KeywordsDetector {
    fn kinds(&self) -> &[Arc<str>] {
        &self.kinds
    }

    fn view(&self) -> ViewKind {
        self.view
    }

    fn max_len(&self) -> usize {
        self.max_len
    }

    fn next(&self, hay: &str, from: usize) -> Option<Candidate> {
        if from > hay.len() {
            return None;
        }
        let m = self.ac.find(Input::new(hay).span(from..hay.len()))?;
        let (s, e) = (m.start(), m.end());
        let ok = !self.whole_word
            || (!char_before(hay, s).is_some_and(is_word_char)
                && !char_at(hay, e).is_some_and(is_word_char));
        Some(Candidate::whole(s, e, 0, if ok { 1.0 } else { 0.0 }))
    }

    fn liveness(&self) -> Option<&Liveness> {
        Some(&self.liveness)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(d: &KeywordsDetector, hay: &str) -> Vec<String> {
        let mut out = Vec::new();
        let mut from = 0;
        while let Some(c) = d.next(hay, from) {
            if c.score > 0.0 {
                out.push(hay[c.start..c.end].to_owned());
            }
            from = c.end;
        }
        out
    }

    #[test]
    fn whole_word_and_longest() {
        let d = KeywordsDetector::new(
            "keyword.k",
            &["cat".into(), "cat food".into(), "Dog".into()],
            true,
            false,
        )
        .expect("builds");
        assert_eq!(
            all(&d, "concatenate cat food, dog!"),
            vec!["cat food", "dog"]
        );
        assert_eq!(all(&d, "dogs cat"), vec!["cat"]);
    }

    #[test]
    fn substring_mode_matches_inside_words() {
        let d = KeywordsDetector::new("keyword.k", &["cat".into()], false, false).expect("builds");
        assert_eq!(all(&d, "concatenate"), vec!["cat"]);
    }

    #[test]
    fn empty_list_is_an_error() {
        assert!(KeywordsDetector::new("keyword.k", &[" ".into()], true, false).is_err());
    }
}
