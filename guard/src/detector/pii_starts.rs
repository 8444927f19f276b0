//! Where a built-in `pii` entity may start, found from the digits, `+`, `(`, `@` and `:` in the
//! text instead of running the entities' automaton over every byte.
//!
//! Every built-in entity pattern (see [`super::pii`]) has one of those bytes among its first 65,
//! and only letters, digits and `. _ % + -` before it:
//!
//! * an e-mail address has its `@` at most 64 bytes in, after its local part;
//! * an IBAN starts with two letters, then digits;
//! * an IPv6 address has a `:` after at most four hex digits;
//! * credit cards, SSNs, IPv4 addresses and phone numbers start with a digit, `+` or `(`.
//!
//! So a match that starts at or after `from` starts at or after the first of those bytes from
//! `from`, walked back over at most 64 such characters. The search jumps there, and the automaton
//! reads only the text around them (see `hinted_search.rs`).

use super::swar;

/// The most bytes an entity can have before its first byte of [`LEADS`].
const MAX_PREFIX: usize = 64;

/// Bytes one of which every entity has near its start (see the module documentation).
static LEADS: [bool; 256] = byte_table(b"0123456789+(@:");

/// Bytes that can come before an entity's first lead byte: those of an e-mail address's local
/// part (which include an IBAN's letters and an IPv6 address's hex digits).
static PREFIX: [bool; 256] =
    byte_table(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._%+-");

const fn byte_table(bytes: &[u8]) -> [bool; 256] {
    let mut table = [false; 256];
    let mut i = 0;
    while i < bytes.len() {
        table[bytes[i] as usize] = true;
        i += 1;
    }
    table
}

/// The first position at or after `from` where a built-in entity may start (see the module
/// documentation); `None` if there is none.
pub fn pii_starts(hay: &str, from: usize) -> Option<usize> {
    let bytes = hay.as_bytes();
    let lead = first_lead(bytes, from)?;
    let mut start = lead;
    while start > from && lead - start < MAX_PREFIX && PREFIX[usize::from(bytes[start - 1])] {
        start -= 1;
    }
    Some(start)
}

/// The first lead byte at or after `from`, eight bytes at a time.
fn first_lead(bytes: &[u8], from: usize) -> Option<usize> {
    let mut at = from;
    while let Some(word) = swar::word_at(bytes, at) {
        let found = swar::digits(word)
            | swar::equal(word, b'+')
            | swar::equal(word, b'(')
            | swar::equal(word, b'@')
            | swar::equal(word, b':');
        if found != 0 {
            return Some(at + swar::first_flagged(found));
        }
        at += 8;
    }
    let rest = bytes.get(at..)?;
    rest.iter()
        .position(|&b| LEADS[usize::from(b)])
        .map(|i| at + i)
}

/// Whether `b` is a lead byte (see the module documentation).
#[cfg(test)]
fn is_lead(b: u8) -> bool {
    LEADS[usize::from(b)]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detector::all_candidates as all;
    use crate::detector::pii::build_entities;
    use crate::policy::PiiEntity;

    #[test]
    fn starts_walk_back_from_lead_bytes() {
        assert_eq!(pii_starts("call +1 415", 0), Some(5));
        assert_eq!(pii_starts("mail jo.doe@x.org", 0), Some(5));
        assert_eq!(pii_starts("mail jo.doe@x.org", 7), Some(7));
        assert_eq!(pii_starts("iban de89 3704", 0), Some(5));
        assert_eq!(pii_starts("no entities here, none at all.", 0), None);
        assert_eq!(pii_starts("ip fe80::1", 0), Some(3));
        assert_eq!(pii_starts("ip fe:80", 0), Some(3));
        let long = format!("{}@x.org", "a".repeat(100));
        assert_eq!(pii_starts(&long, 0), Some(100 - MAX_PREFIX));
        // Non-ASCII text is skipped whole; `from` may be inside a character.
        assert_eq!(pii_starts("é ü 中文 7", 1), Some(13));
    }

    proptest::proptest! {
        /// The word-at-a-time search finds the same first lead byte as a byte-at-a-time one.
        #[test]
        fn words_find_the_first_lead_byte(
            bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..40),
            from in 0usize..40,
        ) {
            let want = bytes.iter().skip(from).position(|&b| is_lead(b)).map(|i| i + from);
            proptest::prop_assert_eq!(first_lead(&bytes, from), want);
        }

        /// Jumping ahead with the hint finds exactly what the automaton finds on its own.
        #[test]
        fn lead_byte_starts_change_nothing(
            hay in crate::text_of(
                &[
                    "4111", "1111", "1", "0", "20", "415", "555", "2671", " ", "-", ".", "+", "(",
                    ")", "@", ":", "::", "de", "89", "gb", "x", "john", "doe", "example", "org",
                    ".com", "_", "%", "é", "中", "fe80", "\n", "536-22-1234", "192.168.1.20",
                    "415) 555-2671", "1 (415) 555-2671", "020 7946 0958", "4111 1111 1111 1111",
                    "58213-b", "de89 3704 0044 0532 0130 00", "gb82west12345698765432",
                    "4111111111111111",
                ],
                60,
            ),
        ) {
            for entities in [&PiiEntity::ALL[..], &[PiiEntity::Email, PiiEntity::Iban]] {
                let fast = build_entities(entities).expect("builds");
                let slow = build_entities(entities).expect("builds").plain();
                proptest::prop_assert_eq!(all(&fast, &hay), all(&slow, &hay));
            }
        }
    }
}
