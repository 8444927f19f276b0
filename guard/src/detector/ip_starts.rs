//! Where an IP address may start, found from the `.` and `:` bytes (with `memchr`) instead of
//! running the address automaton over every byte of the text.
//!
//! * An IPv4 address starts with one to three digits followed by a `.` and a digit, and two more
//!   dots come among the digits and dots after it (so `3.14.2` and `10.0.19045` are passed by).
//! * An IPv6 address (as the `pii` pattern writes it) starts with at most four hex digits
//!   followed by a `:`, then at most four hex digits and another `:`.
//!
//! So the first `.` or `:` at or after an address's start lies at most four bytes after it, and
//! only digits (or hex digits) come between: every possible start is found by walking back from
//! the separators in order. Text between separators is never looked at.

/// The most bytes before its first separator an address can start.
const MAX_LEAD: usize = 4;

/// The first position at or after `from` where an IPv4 or IPv6 address may start (see the
/// module documentation); `None` if there is none.
pub fn ip_starts(hay: &str, from: usize) -> Option<usize> {
    let bytes = hay.as_bytes();
    let mut at = from;
    loop {
        let sep = at + memchr::memchr2(b'.', b':', bytes.get(at..)?)?;
        let after = &bytes[sep + 1..];
        let (lead, plausible, may_start_at_sep) = if bytes[sep] == b'.' {
            (3, dotted_quad_rest(after), false)
        } else {
            let hex = after
                .iter()
                .take(MAX_LEAD)
                .take_while(|b| b.is_ascii_hexdigit())
                .count();
            (MAX_LEAD, after.get(hex) == Some(&b':'), true)
        };
        if plausible {
            let is_lead: fn(&u8) -> bool = if bytes[sep] == b'.' {
                u8::is_ascii_digit
            } else {
                u8::is_ascii_hexdigit
            };
            let mut start = sep;
            while start > 0 && sep - start < lead && is_lead(&bytes[start - 1]) {
                start -= 1;
            }
            let start = start.max(from);
            if start < sep || (may_start_at_sep && start == sep) {
                return Some(start);
            }
        }
        at = sep + 1;
    }
}

/// Whether `after` (the bytes after an IPv4 address's first `.`) can go on as one: a digit, and
/// two more dots among the digits and dots that follow (`2.168.1.20`), at most 12 bytes on.
fn dotted_quad_rest(after: &[u8]) -> bool {
    let run = after
        .iter()
        .take(12)
        .take_while(|b| b.is_ascii_digit() || **b == b'.');
    after.first().is_some_and(u8::is_ascii_digit) && run.filter(|&&b| b == b'.').count() >= 2
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detector::all_candidates as all;
    use crate::detector::pii::build_entities;
    use crate::policy::PiiEntity;

    #[test]
    fn starts_walk_back_from_separators() {
        assert_eq!(ip_starts("host 192.168.1.20 up", 0), Some(5));
        assert_eq!(ip_starts("host 192.168.1.20 up", 6), Some(6));
        assert_eq!(ip_starts("x 12345.6", 0), None);
        assert_eq!(ip_starts("x 12345.6.7.8", 0), Some(4));
        assert_eq!(ip_starts("the end. 3.x", 0), None);
        assert_eq!(ip_starts("v3.14.2 and 10.0.19045", 0), None);
        assert_eq!(ip_starts("v3.14.2 and 10.0.1.9", 0), Some(12));
        assert_eq!(ip_starts("v6 fe80::1", 0), Some(3));
        assert_eq!(ip_starts("a: b :: c", 0), Some(5));
        assert_eq!(ip_starts("no address: here.", 0), None);
    }

    proptest::proptest! {
        /// Searching from the separators finds exactly what the automaton finds on its own.
        #[test]
        fn separator_starts_change_nothing(
            hay in crate::text_of(
                &[
                    "1", "25", "255", "256", "192", "0", "7", "fe80", "db8", "a", "f", "g", ".",
                    ":", "::", " ", "-", "x", "é", "2001", "10.0.0.1", "::1",
                ],
                50,
            ),
        ) {
            let fast = build_entities(&[PiiEntity::IpAddress]).expect("builds");
            let slow = build_entities(&[PiiEntity::IpAddress]).expect("builds").plain();
            proptest::prop_assert_eq!(all(&fast, &hay), all(&slow, &hay));
        }
    }
}
