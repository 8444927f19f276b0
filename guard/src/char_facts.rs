//! Per-character facts the normaliser asks about every non-ASCII character (is it a starter, is
//! it already stable under NFKC, may lower-casing change it, is it alphanumeric), answered from a table for the
//! first [`TABLE_CHARS`] code points: the Unicode crates answer these with long chains of
//! comparisons, which made them most of the cost of building a view of European text.

use std::sync::OnceLock;

use unicode_normalization::char::canonical_combining_class;
use unicode_normalization::{IsNormalized, is_nfkc_quick};

use crate::normalize::is_invisible;

/// Code points below this are answered from the table (Latin, Greek, Cyrillic, Hebrew, Arabic,
/// Indic scripts, general punctuation, symbols and arrows).
const TABLE_CHARS: u32 = 0x3000;

const STARTER: u8 = 1;
const STABLE: u8 = 2;
const LOWERS: u8 = 4;
const ALPHANUMERIC: u8 = 8;

fn compute(c: char) -> u8 {
    let mut facts = 0;
    if canonical_combining_class(c) == 0 {
        facts |= STARTER;
    }
    if !is_invisible(c) && is_nfkc_quick(std::iter::once(c)) == IsNormalized::Yes {
        facts |= STABLE;
    }
    if c.is_alphabetic() && !c.is_lowercase() {
        facts |= LOWERS;
    }
    if c.is_alphanumeric() {
        facts |= ALPHANUMERIC;
    }
    facts
}

fn facts(c: char) -> u8 {
    static TABLE: OnceLock<Vec<u8>> = OnceLock::new();
    let table = TABLE.get_or_init(|| {
        (0..TABLE_CHARS)
            .map(|v| char::from_u32(v).map_or(0, compute))
            .collect()
    });
    match table.get(u32::from(c) as usize) {
        Some(&f) => f,
        None => compute(c),
    }
}

/// Whether `c` has canonical combining class 0 (ASCII always has).
pub(crate) fn is_starter(c: char) -> bool {
    c.is_ascii() || facts(c) & STARTER != 0
}

/// Whether `c` alone is visible and already in NFKC, so that a segment of just `c` folds to `c`
/// itself (before homoglyph folding).
pub(crate) fn is_stable(c: char) -> bool {
    facts(c) & STABLE != 0
}

/// Whether lower-casing `c` may change it (alphabetic and not lower case).
pub(crate) fn lowers_to_other(c: char) -> bool {
    facts(c) & LOWERS != 0
}

/// [`char::is_alphanumeric`].
pub(crate) fn is_alphanumeric(c: char) -> bool {
    facts(c) & ALPHANUMERIC != 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_agrees_with_the_unicode_crates() {
        for c in [
            'a', 'Z', 'é', 'É', '\u{0301}', '\u{00A0}', '\u{200B}', 'Ж', '\u{2014}', '🙂',
        ] {
            assert_eq!(facts(c), compute(c), "U+{:04X}", c as u32);
        }
        assert!(is_starter('é') && !is_starter('\u{0301}'));
        assert!(is_stable('é') && !is_stable('\u{00A0}') && !is_stable('\u{200B}'));
        assert!(lowers_to_other('É') && !lowers_to_other('é') && !lowers_to_other('🙂'));
        assert!(is_alphanumeric('é') && is_alphanumeric('٣') && !is_alphanumeric('—'));
    }
}
