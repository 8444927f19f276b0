//! The `regex` detector: many patterns per rule, compiled into one leftmost-first automaton.

use std::sync::Arc;

use regex_automata::Input;
use regex_automata::meta::Regex;
use regex_automata::util::syntax;

use super::{Candidate, Detector, Liveness};
use crate::normalize::ViewKind;

/// A compiled `regex` rule.
#[derive(Debug)]
pub struct RegexDetector {
    kinds: [Arc<str>; 1],
    regex: Regex,
    liveness: Liveness,
    view: ViewKind,
    max_len: usize,
}

/// Why a pattern was refused; `index` is the pattern's position in the rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatternError {
    /// Position of the pattern in the rule's list.
    pub index: usize,
    /// What is wrong.
    pub message: String,
}

/// The syntax configuration used for rule patterns.
pub fn syntax_config(case_insensitive: bool) -> syntax::Config {
    syntax::Config::new()
        .case_insensitive(case_insensitive)
        .multi_line(true)
}

/// Checks one pattern: it compiles, cannot match empty text and, if `bounded` is required,
/// cannot match unboundedly long text. Returns its maximum match length in bytes.
pub fn check_pattern(
    pattern: &str,
    case_insensitive: bool,
    bounded: bool,
) -> Result<Option<usize>, String> {
    let hir = regex_syntax::ParserBuilder::new()
        .case_insensitive(case_insensitive)
        .multi_line(true)
        .build()
        .parse(pattern)
        .map_err(|e| e.to_string())?;
    let props = hir.properties();
    if props.minimum_len().unwrap_or(0) == 0 {
        return Err("the pattern can match empty text".to_owned());
    }
    if props.look_set().contains(regex_syntax::hir::Look::End)
        || props.look_set().contains(regex_syntax::hir::Look::Start)
    {
        return Err("`\\A` and `\\z` are not supported (use `^`/`$`, which match at lines)".into());
    }
    let max = props.maximum_len();
    if bounded && max.is_none() {
        return Err(
            "output rules need a bounded pattern so the stream can release text: \
             replace `*`, `+` and `{n,}` by bounded repeats such as `{1,64}`"
                .to_owned(),
        );
    }
    Ok(max)
}

impl RegexDetector {
    /// Compiles a rule's patterns. `kind` is the taxonomy kind (`regex.<rule id>`). Unbounded
    /// patterns are refused when `bounded` is set (output rules).
    pub fn new(
        kind: &str,
        patterns: &[String],
        case_sensitive: bool,
        bounded: bool,
    ) -> Result<Self, PatternError> {
        let ci = !case_sensitive;
        let mut max_len = 0usize;
        for (index, p) in patterns.iter().enumerate() {
            let max =
                check_pattern(p, ci, bounded).map_err(|message| PatternError { index, message })?;
            max_len = max_len.max(max.unwrap_or(usize::MAX / 4));
        }
        let regex = Regex::builder()
            .syntax(syntax_config(ci))
            .build_many(patterns)
            .map_err(|e| PatternError {
                index: e.pattern().map_or(0, |p| p.as_usize()),
                message: e.to_string(),
            })?;
        let liveness = Liveness::new(patterns, syntax_config(ci))
            .map_err(|message| PatternError { index: 0, message })?;
        Ok(RegexDetector {
            kinds: [Arc::from(kind)],
            regex,
            liveness,
            view: if case_sensitive {
                ViewKind::Folded
            } else {
                ViewKind::Lower
            },
            max_len,
        })
    }
}

impl Detector for RegexDetector {
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
        let m = self.regex.find(Input::new(hay).range(from..))?;
        Some(Candidate::whole(m.start(), m.end(), 0, 1.0))
    }

    fn liveness(&self) -> Option<&Liveness> {
        Some(&self.liveness)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_leftmost_first_across_patterns() {
        let d = RegexDetector::new(
            "regex.t",
            &["order-[0-9]{4}".into(), "ticket #[0-9]{1,6}".into()],
            false,
            true,
        )
        .expect("compiles");
        let hay = "see ticket #42 and order-1234";
        let c = d.next(hay, 0).expect("match");
        assert_eq!(&hay[c.start..c.end], "ticket #42");
        let c2 = d.next(hay, c.end).expect("second");
        assert_eq!(&hay[c2.start..c2.end], "order-1234");
        assert!(d.next(hay, c2.end).is_none());
    }

    #[test]
    fn refuses_unbounded_output_patterns_and_names_the_index() {
        let err = RegexDetector::new("regex.t", &["ok{1,3}".into(), "a+".into()], false, true)
            .expect_err("unbounded");
        assert_eq!(err.index, 1);
        assert!(err.message.contains("bounded"));
        assert!(RegexDetector::new("regex.t", &["a+".into()], false, false).is_ok());
    }

    #[test]
    fn refuses_empty_and_broken_patterns() {
        assert!(check_pattern("a*", false, false).is_err());
        let err = check_pattern("(unclosed", false, false).expect_err("syntax");
        assert!(err.contains("unclosed"), "{err}");
    }
}
