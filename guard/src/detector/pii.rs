//! The `pii` detector: e-mail, phone, credit card (Luhn), IBAN (mod 97), IPv4/IPv6, US SSN, and
//! user-defined entities (pattern plus checksum).

use std::net::Ipv6Addr;
use std::sync::Arc;

use super::ip_starts::ip_starts;
use super::pattern_set::{Outcome, PatternDef, PatternSet};
use super::pii_starts::pii_starts;
use super::validators::{card_prefix, iban_length, luhn, mod97, us_ssn, verhoeff};
use super::{Detector, char_at, char_before};
use crate::normalize::ViewKind;
use crate::policy::{CustomPii, PiiEntity, ValidatorKind};

const EMAIL: &str =
    r"[a-z0-9._%+\-]{1,64}@[a-z0-9\-]{1,63}(?:\.[a-z0-9\-]{1,63}){0,4}\.[a-z]{2,24}";
const CARD: &str = r"[0-9](?:[ \-]?[0-9]){12,18}";
const IBAN: &str = r"[a-z]{2}[0-9]{2}(?: ?[a-z0-9]){11,30}";
const SSN: &str = r"[0-9]{3}-[0-9]{2}-[0-9]{4}|[0-9]{3} [0-9]{2} [0-9]{4}";
const IPV4: &str = r"(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])(?:\.(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])){3}";
const IPV6: &str = r"[0-9a-f]{0,4}(?::[0-9a-f]{0,4}){2,7}";
const PHONE_INTL: &str = r"\+[0-9]{1,3}[ .\-]?\(?[0-9]{1,4}\)?(?:[ .\-]?[0-9]{1,5}){1,5}";
const PHONE_NANP: &str = r"(?:1[ .\-])?\(?[2-9][0-9]{2}\)?[ .\-]?[2-9][0-9]{2}[ .\-][0-9]{4}";
const PHONE_NATIONAL: &str = r"0[1-9][0-9]{0,4}(?:[ \-][0-9]{2,8}){1,4}";

fn digits(s: &str) -> String {
    s.chars().filter(char::is_ascii_digit).collect()
}

/// Length of the first run of ASCII alphanumerics at `s` (at least 1): where a rejected number
/// resumes, so that a later number inside the same match is still found.
fn first_group(hay: &str, s: usize, e: usize) -> usize {
    let run = hay[s..e]
        .bytes()
        .skip(1)
        .take_while(u8::is_ascii_alphanumeric)
        .count();
    s + 1 + run
}

fn near(
    hay: &str,
    s: usize,
    e: usize,
    before: impl Fn(char) -> bool,
    after: impl Fn(char) -> bool,
) -> bool {
    char_before(hay, s).is_some_and(before) || char_at(hay, e).is_some_and(after)
}

fn email(hay: &str, s: usize, e: usize) -> Outcome {
    // A local part glued to more local-part characters is longer than 64 (not an address), and
    // `scheme://user@host` is URL user info (often a token), not an address.
    let url_userinfo = hay[..s].ends_with("//");
    let glued = near(
        hay,
        s,
        e,
        |c| c.is_alphanumeric() || matches!(c, '.' | '_' | '%' | '+' | '-'),
        |c| c.is_alphanumeric() || c == '@' || c == '-',
    );
    if url_userinfo || glued {
        return Outcome::Reject { resume: e };
    }
    Outcome::Accept {
        end: e,
        span: (s, e),
        score: 1.0,
    }
}

fn card(hay: &str, s: usize, e: usize) -> Outcome {
    if char_before(hay, s).is_some_and(|c| c.is_ascii_digit() || c == '-' || c == '.') {
        return Outcome::Reject {
            resume: first_group(hay, s, e),
        };
    }
    // Try the whole match, then drop trailing digit groups (a card followed by another number).
    let mut end = e;
    loop {
        let cand = &hay[s..end];
        let d = digits(cand);
        let sep_ok = {
            let seps: Vec<char> = cand.chars().filter(|c| !c.is_ascii_digit()).collect();
            seps.windows(2).all(|w| w[0] == w[1])
        };
        if (13..=19).contains(&d.len())
            && sep_ok
            && card_prefix(&d)
            && luhn(&d)
            && !char_at(hay, end).is_some_and(|c| c.is_ascii_digit())
        {
            return Outcome::Accept {
                end,
                span: (s, end),
                score: 1.0,
            };
        }
        match cand.rfind([' ', '-']) {
            Some(i) if i > 0 => end = s + i,
            _ => break,
        }
    }
    // A number grouped like a card (4-4-4-4, 4-6-5) that fails the checks is consumed whole: its
    // groups are not phone numbers either. Otherwise resume after the first group, so that a
    // card right after another number is still found.
    let groups: Vec<usize> = hay[s..e].split([' ', '-']).map(str::len).collect();
    let card_shaped = groups.len() >= 3
        && (groups[..groups.len() - 1].iter().all(|&g| g == 4) || groups == [4, 6, 5]);
    Outcome::Reject {
        resume: if card_shaped {
            e
        } else {
            first_group(hay, s, e)
        },
    }
}

fn iban(hay: &str, s: usize, e: usize) -> Outcome {
    if char_before(hay, s).is_some_and(char::is_alphanumeric) {
        return Outcome::Reject {
            resume: first_group(hay, s, e),
        };
    }
    let country = hay[s..s + 2].to_ascii_uppercase();
    let Some(len) = iban_length(&country) else {
        return Outcome::Reject {
            resume: first_group(hay, s, e),
        };
    };
    // Take exactly `len` alphanumerics from the start.
    let mut count = 0;
    let mut end = s;
    for (i, c) in hay[s..e].char_indices() {
        if c.is_ascii_alphanumeric() {
            count += 1;
            if count == len {
                end = s + i + 1;
                break;
            }
        }
    }
    if count != len || char_at(hay, end).is_some_and(|c| c.is_ascii_alphanumeric()) {
        return Outcome::Reject {
            resume: first_group(hay, s, e),
        };
    }
    if mod97(&hay[s..end]) {
        Outcome::Accept {
            end,
            span: (s, end),
            score: 1.0,
        }
    } else {
        // An IBAN-shaped string with a wrong checksum is consumed whole: its digit groups are
        // not phone or card numbers either.
        Outcome::Reject { resume: end }
    }
}

fn ssn(hay: &str, s: usize, e: usize) -> Outcome {
    let bad = near(
        hay,
        s,
        e,
        |c| c.is_alphanumeric() || c == '-',
        |c| c.is_alphanumeric() || c == '-',
    );
    if bad || !us_ssn(&hay[s..e]) {
        return Outcome::Reject {
            resume: first_group(hay, s, e),
        };
    }
    Outcome::Accept {
        end: e,
        span: (s, e),
        score: 0.95,
    }
}

fn ipv4(hay: &str, s: usize, e: usize) -> Outcome {
    let before_bad = char_before(hay, s).is_some_and(|c| c.is_alphanumeric() || c == '.');
    let after_bad = char_at(hay, e).is_some_and(|c| c.is_alphanumeric())
        || (char_at(hay, e) == Some('.')
            && char_at(hay, e + 1).is_some_and(|c| c.is_ascii_digit()));
    if before_bad || after_bad {
        return Outcome::Reject {
            resume: first_group(hay, s, e),
        };
    }
    Outcome::Accept {
        end: e,
        span: (s, e),
        score: 0.95,
    }
}

fn ipv6(hay: &str, s: usize, e: usize) -> Outcome {
    let text = &hay[s..e];
    let colons = text.bytes().filter(|&b| b == b':').count();
    let hex = text.bytes().filter(u8::is_ascii_hexdigit).count();
    let shape = colons == 7
        || (text.contains("::") && text.split(':').filter(|g| !g.is_empty()).count() >= 2);
    let bad = near(
        hay,
        s,
        e,
        |c| c.is_alphanumeric() || c == ':',
        |c| c.is_alphanumeric() || c == ':',
    );
    if bad || !shape || hex < 3 || text.parse::<Ipv6Addr>().is_err() {
        return Outcome::Reject {
            resume: first_group(hay, s, e),
        };
    }
    Outcome::Accept {
        end: e,
        span: (s, e),
        score: 0.95,
    }
}

fn phone(hay: &str, s: usize, e: usize, min: usize, max: usize) -> Outcome {
    let text = &hay.as_bytes()[s..e];
    let count = |byte: u8| text.iter().filter(|&&b| b == byte).count();
    let digit_count = text.iter().filter(|b| b.is_ascii_digit()).count();
    let bad = near(
        hay,
        s,
        e,
        |c| c.is_alphanumeric() || matches!(c, '+' | '-' | '.' | '/' | '_'),
        |c| c.is_alphanumeric() || c == '_',
    ) || (matches!(char_at(hay, e), Some('.' | '-'))
        && char_at(hay, e + 1).is_some_and(|c| c.is_ascii_digit()));
    if bad || count(b'(') != count(b')') || !(min..=max).contains(&digit_count) {
        return Outcome::Reject {
            resume: first_group(hay, s, e),
        };
    }
    Outcome::Accept {
        end: e,
        span: (s, e),
        score: 0.9,
    }
}

/// Builds the detectors of a `pii` rule.
pub fn build(
    entities: &[PiiEntity],
    custom: &[CustomPii],
) -> Result<Vec<Box<dyn Detector>>, String> {
    let mut out: Vec<Box<dyn Detector>> = Vec::new();
    if !entities.is_empty() {
        out.push(Box::new(build_entities(entities)?));
    }
    if !custom.is_empty() {
        let kinds = custom
            .iter()
            .map(|c| Arc::from(format!("pii.{}", c.name)))
            .collect();
        let defs = custom
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let check: fn(&str) -> bool = match c.validator {
                    ValidatorKind::None => |_| true,
                    ValidatorKind::Luhn => luhn,
                    ValidatorKind::Mod97 => mod97,
                    ValidatorKind::Verhoeff => verhoeff,
                };
                PatternDef::validated(&c.pattern, i, move |h: &str, s, e| {
                    if check(&h[s..e]) {
                        Outcome::Accept {
                            end: e,
                            span: (s, e),
                            score: 1.0,
                        }
                    } else {
                        Outcome::Reject { resume: e }
                    }
                })
            })
            .collect();
        out.push(Box::new(PatternSet::new(
            kinds,
            defs,
            ViewKind::Folded,
            false,
        )?));
    }
    Ok(out)
}

/// The set of the built-in `entities` (not empty). A set of IP addresses alone searches from the
/// `.` and `:` where an address may start (see [`ip_starts`]); any other set skips the text far
/// from digits, `+`, `(`, `@` and `:` (see [`pii_starts`]).
pub(crate) fn build_entities(entities: &[PiiEntity]) -> Result<PatternSet, String> {
    let mut kinds: Vec<Arc<str>> = Vec::new();
    let mut defs = Vec::new();
    let kind = |name: &str, kinds: &mut Vec<Arc<str>>| {
        kinds.push(Arc::from(name));
        kinds.len() - 1
    };
    // Order matters where two patterns match at the same position.
    for e in [
        PiiEntity::Email,
        PiiEntity::CreditCard,
        PiiEntity::Iban,
        PiiEntity::UsSsn,
        PiiEntity::IpAddress,
        PiiEntity::Phone,
    ] {
        if !entities.contains(&e) {
            continue;
        }
        match e {
            PiiEntity::Email => {
                let k = kind("pii.email", &mut kinds);
                defs.push(PatternDef::validated(EMAIL, k, email));
            }
            PiiEntity::CreditCard => {
                let k = kind("pii.credit_card", &mut kinds);
                defs.push(PatternDef::validated(CARD, k, card));
            }
            PiiEntity::Iban => {
                let k = kind("pii.iban", &mut kinds);
                defs.push(PatternDef::validated(IBAN, k, iban));
            }
            PiiEntity::UsSsn => {
                let k = kind("pii.us_ssn", &mut kinds);
                defs.push(PatternDef::validated(SSN, k, ssn));
            }
            PiiEntity::IpAddress => {
                let k = kind("pii.ip_address", &mut kinds);
                defs.push(PatternDef::validated(IPV4, k, ipv4));
                defs.push(PatternDef::validated(IPV6, k, ipv6));
            }
            PiiEntity::Phone => {
                let k = kind("pii.phone", &mut kinds);
                defs.push(PatternDef::validated(PHONE_INTL, k, |h, s, e| {
                    phone(h, s, e, 8, 15)
                }));
                defs.push(PatternDef::validated(PHONE_NANP, k, |h, s, e| {
                    phone(h, s, e, 10, 11)
                }));
                defs.push(PatternDef::validated(PHONE_NATIONAL, k, |h, s, e| {
                    phone(h, s, e, 10, 12)
                }));
            }
        }
    }
    let set = PatternSet::new(kinds, defs, ViewKind::Lower, false)?;
    if entities.iter().all(|&e| e == PiiEntity::IpAddress) {
        set.with_anchored_starts(ip_starts)
    } else {
        set.with_start_hint(pii_starts)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::normalize::View;

    fn kinds(text: &str) -> Vec<(String, String)> {
        let dets = build(&PiiEntity::ALL, &[]).expect("builds");
        let mut out = Vec::new();
        for d in &dets {
            let v = View::build(text, d.view());
            let hay = v.text();
            let mut from = 0;
            while let Some(c) = d.next(hay, from) {
                if c.score > 0.0 {
                    out.push((
                        d.kinds()[c.kind].to_string(),
                        hay[c.span_start..c.span_end].to_owned(),
                    ));
                }
                from = c.end;
            }
        }
        out
    }

    fn one(kind: &str, text: &str, expect: &str) {
        let got = kinds(text);
        assert!(
            got.iter().any(|(k, t)| k == kind && t == expect),
            "{kind} `{expect}` not found in {text:?}: {got:?}"
        );
    }

    #[test]
    fn finds_each_entity() {
        one(
            "pii.email",
            "mail John.Doe+x@Example.co.uk now",
            "john.doe+x@example.co.uk",
        );
        one(
            "pii.credit_card",
            "card 4111 1111 1111 1111 exp",
            "4111 1111 1111 1111",
        );
        one(
            "pii.credit_card",
            "card 4111111111111111 2024",
            "4111111111111111",
        );
        one(
            "pii.iban",
            "iban DE89 3704 0044 0532 0130 00 thanks",
            "de89 3704 0044 0532 0130 00",
        );
        one("pii.us_ssn", "ssn 536-22-1234.", "536-22-1234");
        one("pii.ip_address", "host 192.168.1.20 up", "192.168.1.20");
        one(
            "pii.ip_address",
            "v6 2001:db8::8a2e:370:7334 ok",
            "2001:db8::8a2e:370:7334",
        );
        one("pii.phone", "call +1 415 555 2671 today", "+1 415 555 2671");
        one("pii.phone", "call (415) 555-2671 today", "(415) 555-2671");
        one("pii.phone", "ring 020 7946 0958", "020 7946 0958");
    }

    #[test]
    fn rejects_hard_negatives() {
        for text in [
            "order 4111 1111 1111 1112 shipped",
            "version 1.2.3.4.5 released",
            "at 2024-01-15 10:30:00 UTC",
            "ssn 666-22-1234 invalid",
            "iban DE89 3704 0044 0532 0130 01",
            "use std::vec::Vec",
            "order #20240115103000",
            "mac 00:1a:2b:3c:4d:5e",
        ] {
            assert!(kinds(text).is_empty(), "{text}: {:?}", kinds(text));
        }
    }
}
