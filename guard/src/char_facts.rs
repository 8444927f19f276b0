//! Per-character facts the normaliser asks about every non-ASCII character (is it a starter, is
//! it already stable under NFKC, may lower-casing change it, is it alphanumeric), answered from
//! tables: the Unicode crates answer these with long chains of comparisons, which made them most
//! of the cost of building a view of European text, and of any text with emoji. Each block of
//! [`BLOCK_CHARS`] code points is tabled the first time one of its characters is asked about.

use std::sync::OnceLock;

use unicode_normalization::char::canonical_combining_class;
use unicode_normalization::{IsNormalized, is_nfkc_quick};

use crate::normalize::is_invisible;

/// Code points per table, built the first time one of them is asked about.
const BLOCK_CHARS: u32 = 256;
/// Tables covering every code point.
const BLOCKS: usize = (0x11_0000 / BLOCK_CHARS) as usize;

const STARTER: u8 = 1;
const STABLE: u8 = 2;
const LOWERS: u8 = 4;
const ALPHANUMERIC: u8 = 8;
const FOLDS: u8 = 16;

fn compute(c: char) -> u8 {
    let mut facts = 0;
    if canonical_combining_class(c) == 0 {
        facts |= STARTER;
    }
    if !is_invisible(c) && is_nfkc_quick(std::iter::once(c)) == IsNormalized::Yes {
        facts |= STABLE;
    }
    if !c.to_lowercase().eq(std::iter::once(c)) {
        facts |= LOWERS;
    }
    if c.is_alphanumeric() {
        facts |= ALPHANUMERIC;
    }
    if crate::homoglyph::fold(c) != c {
        facts |= FOLDS;
    }
    facts
}

fn facts(c: char) -> u8 {
    static TABLES: [OnceLock<Box<[u8]>>; BLOCKS] = [const { OnceLock::new() }; BLOCKS];
    let v = u32::from(c);
    let Some(cell) = TABLES.get((v / BLOCK_CHARS) as usize) else {
        return compute(c);
    };
    let start = v - v % BLOCK_CHARS;
    let table = cell.get_or_init(|| table_of(start..start + BLOCK_CHARS).into_boxed_slice());
    table
        .get((v % BLOCK_CHARS) as usize)
        .copied()
        .unwrap_or_else(|| compute(c))
}

/// The facts of every code point in `range` (0 for surrogates, which are not characters).
fn table_of(range: std::ops::Range<u32>) -> Vec<u8> {
    range
        .map(|v| char::from_u32(v).map_or(0, compute))
        .collect()
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

/// Whether lower-casing `c` changes it (ideographs and other caseless letters do not).
pub(crate) fn lowers_to_other(c: char) -> bool {
    facts(c) & LOWERS != 0
}

/// Whether `c` is a starter, and whether a segment of just `c` is `c` in both the folded and the
/// lower-case view (a visible, NFKC-stable starter that is no homoglyph and its own lower case).
pub(crate) fn verbatim_facts(c: char) -> (bool, bool) {
    let f = facts(c);
    (
        f & STARTER != 0,
        f & (STARTER | STABLE | FOLDS | LOWERS) == STARTER | STABLE,
    )
}

/// [`char::is_alphanumeric`].
pub(crate) fn is_alphanumeric(c: char) -> bool {
    facts(c) & ALPHANUMERIC != 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tables_agree_with_the_unicode_crates_on_every_char() {
        for c in (0..=0x10FFFFu32).filter_map(char::from_u32) {
            assert_eq!(facts(c), compute(c), "U+{:04X}", c as u32);
        }
        assert!(is_starter('é') && !is_starter('\u{0301}'));
        assert!(is_stable('é') && !is_stable('\u{00A0}') && !is_stable('\u{200B}'));
        assert!(lowers_to_other('É') && !lowers_to_other('é') && !lowers_to_other('🙂'));
        assert!(is_alphanumeric('é') && is_alphanumeric('٣') && !is_alphanumeric('—'));
    }
}
