//! Byte tests on eight bytes at once, in a `u64` ("SIMD within a register"): the PII start hint
//! and the encoded-payload probe find the bytes they care about without a branch per byte (and
//! without `unsafe` SIMD intrinsics).
//!
//! A test returns a *mask* with the high bit of each flagged byte set. Masks are little-endian:
//! byte `k` of the eight is bits `8k..8k + 8`, so [`first_flagged`] is the lowest flagged byte.
//! [`equal`] may also flag bytes above a byte that truly matches (a borrow runs up from it), never
//! below, and never when no byte matches: the lowest flag of a mask, and whether a mask is zero,
//! are exact, and stay so when masks are combined with `|`.

/// `0x01` in every byte.
const ONES: u64 = u64::from_le_bytes([0x01; 8]);
/// `0x80` in every byte.
const HIGH: u64 = u64::from_le_bytes([0x80; 8]);

/// The eight bytes at `bytes[at..]` as a little-endian word, if there are eight.
#[inline]
pub fn word_at(bytes: &[u8], at: usize) -> Option<u64> {
    let eight: [u8; 8] = bytes.get(at..at.checked_add(8)?)?.try_into().ok()?;
    Some(u64::from_le_bytes(eight))
}

/// Flags the bytes of `word` equal to `b` (see the module documentation for the bytes above a
/// match).
#[inline]
pub fn equal(word: u64, b: u8) -> u64 {
    let x = word ^ (ONES * u64::from(b));
    x.wrapping_sub(ONES) & !x & HIGH
}

/// Flags exactly the ASCII digits of `word`.
#[inline]
pub fn digits(word: u64) -> u64 {
    // With every byte's high bit set, no byte's subtraction borrows from the next; a byte keeps
    // its high bit after subtracting `c` exactly when its low seven bits are at least `c`.
    let high = word | HIGH;
    high.wrapping_sub(ONES * u64::from(b'0'))
        & !high.wrapping_sub(ONES * u64::from(b':'))
        & !word
        & HIGH
}

/// The index (0 to 7) of the lowest flagged byte of a non-zero `mask`.
#[inline]
pub fn first_flagged(mask: u64) -> usize {
    mask.trailing_zeros() as usize / 8
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        /// Every test's lowest flag, and whether it flags anything, match a byte-by-byte test.
        #[test]
        fn lowest_flags_are_exact(bytes in proptest::array::uniform8(proptest::num::u8::ANY)) {
            let word = u64::from_le_bytes(bytes);
            let first = |mask: u64| (mask != 0).then(|| first_flagged(mask));
            for b in [b'.', b':', b'%', 0, 0x80, 0xFF] {
                proptest::prop_assert_eq!(first(equal(word, b)), bytes.iter().position(|&x| x == b));
            }
            let want: Vec<bool> = bytes.iter().map(u8::is_ascii_digit).collect();
            let got: Vec<bool> = (0..8).map(|k| digits(word) >> (8 * k) & 0x80 != 0).collect();
            proptest::prop_assert_eq!(got, want);
            proptest::prop_assert_eq!(first(word & HIGH), bytes.iter().position(|&x| x >= 0x80));
        }
    }

    #[test]
    fn words_are_little_endian() {
        let bytes = b"ab.d:f7h9";
        let word = word_at(bytes, 1).expect("eight bytes");
        assert_eq!(first_flagged(equal(word, b'.')), 1);
        assert_eq!(first_flagged(digits(word)), 5);
        assert_eq!(word_at(bytes, 2), None);
    }
}
