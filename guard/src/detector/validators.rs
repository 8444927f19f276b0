//! Checksums and structural checks used by the PII detector.

/// The Luhn (mod 10) check over the ASCII digits of `s` (other characters are ignored).
pub fn luhn(s: &str) -> bool {
    let digits: Vec<u32> = s.chars().filter_map(|c| c.to_digit(10)).collect();
    if digits.len() < 2 {
        return false;
    }
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &d)| {
            if i % 2 == 1 {
                let x = d * 2;
                if x > 9 { x - 9 } else { x }
            } else {
                d
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

/// The ISO 7064 mod 97-10 check as used by IBANs: the first four characters move to the end,
/// letters count as 10..35, and the number must be 1 modulo 97. Spaces are ignored.
pub fn mod97(s: &str) -> bool {
    let chars: Vec<char> = s
        .chars()
        .filter(|c| !c.is_whitespace())
        .map(|c| c.to_ascii_uppercase())
        .collect();
    if chars.len() < 5 || !chars.iter().all(char::is_ascii_alphanumeric) {
        return false;
    }
    let mut rem: u32 = 0;
    for &c in chars[4..].iter().chain(&chars[..4]) {
        let v = c.to_digit(36).unwrap_or(0);
        rem = if v >= 10 {
            (rem * 100 + v) % 97
        } else {
            (rem * 10 + v) % 97
        };
    }
    rem == 1
}

const VERHOEFF_D: [[u8; 10]; 10] = [
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
    [1, 2, 3, 4, 0, 6, 7, 8, 9, 5],
    [2, 3, 4, 0, 1, 7, 8, 9, 5, 6],
    [3, 4, 0, 1, 2, 8, 9, 5, 6, 7],
    [4, 0, 1, 2, 3, 9, 5, 6, 7, 8],
    [5, 9, 8, 7, 6, 0, 4, 3, 2, 1],
    [6, 5, 9, 8, 7, 1, 0, 4, 3, 2],
    [7, 6, 5, 9, 8, 2, 1, 0, 4, 3],
    [8, 7, 6, 5, 9, 3, 2, 1, 0, 4],
    [9, 8, 7, 6, 5, 4, 3, 2, 1, 0],
];
const VERHOEFF_P: [[u8; 10]; 8] = [
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
    [1, 5, 7, 6, 2, 8, 3, 0, 9, 4],
    [5, 8, 0, 3, 7, 9, 6, 1, 4, 2],
    [8, 9, 1, 6, 0, 4, 3, 5, 2, 7],
    [9, 4, 5, 3, 1, 2, 6, 8, 7, 0],
    [4, 2, 8, 6, 5, 7, 3, 9, 0, 1],
    [2, 7, 9, 3, 8, 0, 6, 4, 1, 5],
    [7, 0, 4, 6, 9, 1, 3, 2, 5, 8],
];

/// The Verhoeff check over the ASCII digits of `s`.
pub fn verhoeff(s: &str) -> bool {
    let digits: Vec<usize> = s
        .chars()
        .filter_map(|c| c.to_digit(10))
        .map(|d| d as usize)
        .collect();
    if digits.is_empty() {
        return false;
    }
    let mut c = 0usize;
    for (i, &d) in digits.iter().rev().enumerate() {
        c = VERHOEFF_D[c][VERHOEFF_P[i % 8][d] as usize] as usize;
    }
    c == 0
}

/// Whether `area-group-serial` digits form a possible US SSN: area not 000, 666 or 900-999,
/// group not 00, serial not 0000, and not one of the well-known advertising numbers.
pub fn us_ssn(digits: &str) -> bool {
    let d: Vec<u32> = digits.chars().filter_map(|c| c.to_digit(10)).collect();
    if d.len() != 9 {
        return false;
    }
    let area = d[0] * 100 + d[1] * 10 + d[2];
    let group = d[3] * 10 + d[4];
    let serial = d[5] * 1000 + d[6] * 100 + d[7] * 10 + d[8];
    let all: String = d.iter().map(|x| char::from(b'0' + *x as u8)).collect();
    area != 0
        && area != 666
        && area < 900
        && group != 0
        && serial != 0
        && all != "078051120"
        && all != "219099999"
        && all != "123456789"
}

/// The IBAN length of a country (ISO 3166 alpha-2, upper case), for the countries that use IBANs.
pub fn iban_length(country: &str) -> Option<usize> {
    let len = match country {
        "NO" => 15,
        "BE" => 16,
        "DK" | "FI" | "FO" | "GL" | "NL" => 18,
        "MK" | "SI" => 19,
        "AT" | "BA" | "EE" | "KZ" | "LT" | "LU" | "XK" => 20,
        "CH" | "CR" | "HR" | "LI" | "LV" => 21,
        "BG" | "BH" | "DE" | "GB" | "GE" | "IE" | "ME" | "RS" => 22,
        "AE" | "GI" | "IL" | "IQ" | "TL" => 23,
        "AD" | "CZ" | "ES" | "MD" | "PK" | "RO" | "SA" | "SE" | "SK" | "TN" | "VG" => 24,
        "PT" | "ST" => 25,
        "IS" | "TR" => 26,
        "FR" | "GR" | "IT" | "MC" | "MR" | "SM" => 27,
        "AL" | "AZ" | "BY" | "CY" | "DO" | "GT" | "HU" | "LB" | "PL" | "SV" => 28,
        "BR" | "EG" | "PS" | "QA" | "UA" => 29,
        "JO" | "KW" | "MU" => 30,
        "MT" | "SC" => 31,
        "LC" => 32,
        "RU" => 33,
        _ => return None,
    };
    Some(len)
}

/// Whether the digits of a card number start with an issuer prefix in use and have a length
/// that issuer uses.
pub fn card_prefix(digits: &str) -> bool {
    let len = digits.len();
    let n = |k: usize| -> u32 { digits.get(..k).and_then(|p| p.parse().ok()).unwrap_or(0) };
    let visa = n(1) == 4 && matches!(len, 13 | 16 | 19);
    let mastercard = ((51..=55).contains(&n(2)) || (2221..=2720).contains(&n(4))) && len == 16;
    let amex = matches!(n(2), 34 | 37) && len == 15;
    let discover =
        (n(4) == 6011 || n(2) == 65 || (644..=649).contains(&n(3))) && (16..=19).contains(&len);
    let jcb = n(2) == 35 && (16..=19).contains(&len);
    let diners =
        ((300..=305).contains(&n(3)) || matches!(n(2), 36 | 38 | 39)) && (14..=19).contains(&len);
    let unionpay = n(2) == 62 && (16..=19).contains(&len);
    visa || mastercard || amex || discover || jcb || diners || unionpay
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn luhn_known_values() {
        assert!(luhn("4111 1111 1111 1111"));
        assert!(luhn("378282246310005"));
        assert!(!luhn("4111 1111 1111 1112"));
    }

    #[test]
    fn mod97_known_values() {
        assert!(mod97("DE89 3704 0044 0532 0130 00"));
        assert!(mod97("GB82WEST12345698765432"));
        assert!(!mod97("DE89 3704 0044 0532 0130 01"));
    }

    #[test]
    fn verhoeff_known_values() {
        assert!(verhoeff("2363"));
        assert!(!verhoeff("2364"));
    }

    #[test]
    fn ssn_area_rules() {
        assert!(us_ssn("536-22-1234"));
        assert!(!us_ssn("000-22-1234"));
        assert!(!us_ssn("666-22-1234"));
        assert!(!us_ssn("912-22-1234"));
        assert!(!us_ssn("536-00-1234"));
        assert!(!us_ssn("536-22-0000"));
        assert!(!us_ssn("078-05-1120"));
    }

    #[test]
    fn card_prefixes() {
        assert!(card_prefix("4111111111111111"));
        assert!(card_prefix("5500000000000004"));
        assert!(card_prefix("2221000000000009"));
        assert!(card_prefix("378282246310005"));
        assert!(!card_prefix("9111111111111111"));
        assert!(!card_prefix("370400440532013001"));
    }
}
