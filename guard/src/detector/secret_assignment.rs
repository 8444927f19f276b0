//! `api_key = "..."`-style assignments whose value has high Shannon entropy: the
//! `secret.generic_api_key` part of the `secrets` detector.
//!
//! Every match has a separator (`=` or `:`) right after a key name, so the search starts from the
//! separators (found with `memchr`) and runs the automaton, anchored, only where a key name ends
//! just before one: ordinary text costs next to nothing.

use std::sync::{Arc, OnceLock};

use regex_automata::meta::Regex;
use regex_automata::{Anchored, Input};

use super::char_at;
use super::pattern_set::{Outcome, PatternDef, PatternSet, bounded_token};
use super::secrets::shannon_entropy;
use crate::normalize::ViewKind;

/// The key names, matched ignoring ASCII case; `?` stands for an optional `_` or `-`. In the
/// folded view these rules read, no non-ASCII character folds to an ASCII letter, so ASCII case
/// folding is all the folding there is to do.
const NAMES: &[&str] = &[
    "api?key",
    "apikey",
    "secret?key",
    "client?secret",
    "access?token",
    "auth?token",
    "api?token",
    "private?token",
    "password",
    "passwd",
    "secret",
    "token",
];

/// The last two letters of every name (a test checks it).
const NAME_ENDINGS: &[[u8; 2]] = &[*b"ey", *b"et", *b"en", *b"rd", *b"wd"];

/// The most spaces or tabs between a name (or its quote) and the separator.
const MAX_SPACES: usize = 3;

/// The assignment pattern: a key name, an optional quote, the separator, an optional quote and
/// a value of 12 to 128 token characters.
fn pattern() -> String {
    let names: Vec<String> = NAMES.iter().map(|n| n.replace('?', "[_\\-]?")).collect();
    format!(
        "(?i-u:{})[\"']?[ \\t]{{0,{MAX_SPACES}}}(?:=|:|=>)[ \\t]{{0,3}}[\"']?[A-Za-z0-9+/_\\-.=~]{{12,128}}",
        names.join("|")
    )
}

/// Every spelling of every name, lower-case.
fn spellings() -> &'static [Vec<u8>] {
    static SPELLINGS: OnceLock<Vec<Vec<u8>>> = OnceLock::new();
    SPELLINGS.get_or_init(|| {
        let mut out = Vec::new();
        for name in NAMES {
            if name.contains('?') {
                for sep in ["_", "-", ""] {
                    out.push(name.replace('?', sep).into_bytes());
                }
            } else {
                out.push(name.as_bytes().to_vec());
            }
        }
        out
    })
}

/// The first position at or after `from` where an assignment may start: the leftmost start of a
/// key name that ends, give or take a quote and spaces, right before a separator. A name holds no
/// separator, so the starts found from later separators only lie further right.
fn assignment_starts(hay: &str, from: usize) -> Option<usize> {
    let bytes = hay.as_bytes();
    let mut at = from;
    loop {
        let sep = at + memchr::memchr2(b'=', b':', bytes.get(at..)?)?;
        let mut end = sep;
        let mut spaces = 0;
        while spaces < MAX_SPACES && end > 0 && matches!(bytes[end - 1], b' ' | b'\t') {
            end -= 1;
            spaces += 1;
        }
        if end > 0 && matches!(bytes[end - 1], b'"' | b'\'') {
            end -= 1;
        }
        let before = &bytes[..end];
        // Every name ends in one of these: most separators are ruled out here.
        let ending = before
            .len()
            .checked_sub(2)
            .map(|i| before[i..].to_ascii_lowercase());
        if !ending.is_some_and(|e| NAME_ENDINGS.contains(&[e[0], e[1]])) {
            at = sep + 1;
            continue;
        }
        let start = spellings()
            .iter()
            .filter(|name| {
                before.len() >= name.len()
                    && before[before.len() - name.len()..].eq_ignore_ascii_case(name)
            })
            .map(|name| end - name.len())
            .filter(|&s| s >= from)
            .min();
        if let Some(start) = start {
            return Some(start);
        }
        at = sep + 1;
    }
}

/// Builds the detector; `known` matches the specific formats (left to their own detectors).
pub fn build(kind: &str, min_entropy: f32, known: Option<Regex>) -> Result<PatternSet, String> {
    let def = PatternDef::validated(&pattern(), 0, move |h, s, e| {
        judge(h, s, e, min_entropy, known.as_ref())
    });
    let set = PatternSet::new(vec![Arc::from(kind)], vec![def], ViewKind::Folded, false)?;
    set.with_anchored_starts(assignment_starts)
}

/// Judges one assignment `h[s..e]`: a literal value with letters, digits and enough entropy.
fn judge(h: &str, s: usize, e: usize, min_entropy: f32, known: Option<&Regex>) -> Outcome {
    let text = &h[s..e];
    // The value starts after the separator and optional quote.
    let sep = text.find(['=', ':']).map_or(0, |i| i + 1);
    let mut v_start = s + sep;
    let rest = &h[v_start..e];
    let trimmed = rest.trim_start_matches(['>', ' ', '\t', '"', '\'']);
    v_start += rest.len() - trimmed.len();
    // A value running into more identifier characters is not a literal.
    if char_at(h, e).is_some_and(|c| c.is_ascii_alphanumeric() || "+/_-.=~".contains(c)) {
        return Outcome::Reject { resume: e };
    }
    let mut v_end = e;
    while v_end > v_start && h.as_bytes()[v_end - 1] == b'.' {
        v_end -= 1;
    }
    let value = &h[v_start..v_end];
    if value.len() < 12 {
        return Outcome::Reject { resume: e };
    }
    if let Some(k) = known
        && k.is_match(Input::new(value).anchored(Anchored::Yes))
    {
        // A known format: the specific detector reports it.
        return Outcome::Reject { resume: e };
    }
    let has_digit = value.bytes().any(|b| b.is_ascii_digit());
    let has_alpha = value.bytes().any(|b| b.is_ascii_alphabetic());
    let entropy = shannon_entropy(value);
    if !has_digit || !has_alpha || entropy < min_entropy {
        return Outcome::Reject { resume: e };
    }
    let score = (entropy / 4.5).min(1.0);
    match bounded_token(h, v_start, v_end, score) {
        Outcome::Accept { score, .. } => Outcome::Accept {
            end: e,
            span: (v_start, v_end),
            score,
        },
        Outcome::Reject { .. } => Outcome::Reject { resume: e },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detector::all_candidates as all;

    #[test]
    fn every_name_has_a_listed_ending() {
        for name in spellings() {
            let end = [name[name.len() - 2], name[name.len() - 1]];
            assert!(
                NAME_ENDINGS.contains(&end),
                "{}",
                String::from_utf8_lossy(name)
            );
        }
    }

    #[test]
    fn starts_are_found_from_separators() {
        let hay = "x my_Client-Secret\"   = 'v' and token:1";
        assert_eq!(assignment_starts(hay, 0), Some(5));
        assert_eq!(assignment_starts(hay, 6), Some(12));
        assert_eq!(assignment_starts(hay, 13), Some(32));
        assert_eq!(assignment_starts("token    = x", 0), None);
        assert_eq!(assignment_starts("no separators here", 0), None);
    }

    proptest::proptest! {
        /// Searching from the separators finds exactly what the automaton finds on its own.
        #[test]
        fn separator_starts_change_nothing(
            hay in crate::text_of(
                &[
                    "api", "_", "-", "KEY", "Key", "apikey", "secret", "Client", "access", "auth",
                    "token", "TOKEN", "private", "passw", "password", "passwd", "ord", " ", "\t",
                    "\"", "'", "=", ":", "=>", "9f8Kq2LmZ7xR4tW1vB6nC3pD", "abcdefghijkl",
                    "Zx81/+q.~", "é", "\n", "x",
                ],
                60,
            ),
        ) {
            let fast = build("k", 3.5, None).expect("builds");
            let slow = build("k", 3.5, None).expect("builds").plain();
            proptest::prop_assert_eq!(all(&fast, &hay), all(&slow, &hay));
        }
    }
}
