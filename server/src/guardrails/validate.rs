//! Validators of the built-in detectors: checksums and shape rules that turn a pattern's
//! candidates into findings, so that ordinary numbers and words are not flagged.
//!
//! Each validator sees the whole scanned text and the candidate's byte span, because some rules
//! are about what surrounds a value (a phone number must not be part of a longer run of digits).

use std::net::Ipv6Addr;

use switchyard_shared::guardrails::DetectorType;

/// Whether the candidate `text[start..end]` found by `kind`'s pattern is a real finding.
pub(super) fn accept(kind: DetectorType, text: &str, start: usize, end: usize) -> bool {
    let value = &text[start..end];
    match kind {
        DetectorType::Email => email(value),
        DetectorType::Phone => phone(text, start, end),
        DetectorType::CreditCard => card(value),
        DetectorType::Iban => iban(value),
        DetectorType::CnResidentId => cn_resident_id(value),
        DetectorType::UsSsn => us_ssn(value),
        DetectorType::IpAddress => ip_address(text, start, end),
        DetectorType::Secret => secret(value),
        DetectorType::DenyWords => word_edges(text, start, end),
        DetectorType::Regex => true,
    }
}

fn before(text: &str, start: usize) -> Option<char> {
    text[..start].chars().next_back()
}

fn after(text: &str, end: usize) -> Option<char> {
    text[end..].chars().next()
}

fn digits(value: &str) -> impl Iterator<Item = u32> + '_ {
    value.chars().filter_map(|c| c.to_digit(10))
}

/// An address's shape beyond what the pattern checks: no empty, leading or trailing-dot local
/// part, domain labels that neither start nor end with a hyphen, and the RFC 5321 lengths.
fn email(value: &str) -> bool {
    let Some((local, domain)) = value.rsplit_once('@') else {
        return false;
    };
    let labels_ok = domain
        .split('.')
        .all(|label| !label.is_empty() && !label.starts_with('-') && !label.ends_with('-'));
    !local.is_empty()
        && local.len() <= 64
        && value.len() <= 254
        && !local.starts_with('.')
        && !local.ends_with('.')
        && !local.contains("..")
        && labels_ok
}

/// An international number (`+`, 9 to 15 digits in all: a country code and 8 to 14 more) or a
/// mainland-China mobile number (11 digits), neither part of a longer run of digits.
fn phone(text: &str, start: usize, end: usize) -> bool {
    let not_digit = |c: Option<char>| !c.is_some_and(|c| c.is_ascii_digit());
    if !not_digit(before(text, start)) || !not_digit(after(text, end)) {
        return false;
    }
    let value = &text[start..end];
    let count = digits(value).count();
    if value.starts_with('+') {
        (9..=15).contains(&count)
    } else {
        count == 11 && before(text, start) != Some('+')
    }
}

/// A payment card number: 13 to 19 digits, a known network's prefix (2221-2720 and 3 to 6:
/// Mastercard, Amex, Diners, JCB, Visa, Discover, UnionPay), and the Luhn check. The prefix rule
/// keeps dates and reference numbers that happen to pass Luhn (one in ten) from being flagged.
fn card(value: &str) -> bool {
    let digits: Vec<u32> = digits(value).collect();
    if !(13..=19).contains(&digits.len()) || digits.iter().all(|d| *d == digits[0]) {
        return false;
    }
    let prefix = digits[..4].iter().fold(0, |acc, d| acc * 10 + d);
    let network = matches!(digits[0], 3..=6) || (2221..=2720).contains(&prefix);
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &d)| match (i % 2 == 1, d * 2) {
            (true, doubled) if doubled > 9 => doubled - 9,
            (true, doubled) => doubled,
            (false, _) => d,
        })
        .sum();
    network && sum.is_multiple_of(10)
}

/// An IBAN: 15 to 34 characters without spaces, and the ISO 13616 mod-97 check (the first four
/// characters moved to the end, letters as 10 to 35, the number mod 97 is 1).
fn iban(value: &str) -> bool {
    let compact: Vec<u8> = value.bytes().filter(|b| *b != b' ').collect();
    if !(15..=34).contains(&compact.len()) {
        return false;
    }
    let (head, tail) = compact.split_at(4);
    let mut remainder: u32 = 0;
    for &b in tail.iter().chain(head) {
        remainder = match b {
            b'0'..=b'9' => (remainder * 10 + u32::from(b - b'0')) % 97,
            b'A'..=b'Z' => (remainder * 100 + u32::from(b - b'A') + 10) % 97,
            _ => return false,
        };
    }
    remainder == 1
}

/// A mainland-China resident identity number: 17 digits whose birth date is plausible, and the
/// ISO 7064 MOD 11-2 check character (`0`-`9` or `X`).
fn cn_resident_id(value: &str) -> bool {
    const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    const CHECK: &[u8; 11] = b"10X98765432";
    let bytes = value.as_bytes();
    if bytes.len() != 18 || !bytes[..17].iter().all(u8::is_ascii_digit) {
        return false;
    }
    let number = |range: std::ops::Range<usize>| {
        bytes[range]
            .iter()
            .fold(0u32, |acc, b| acc * 10 + u32::from(b - b'0'))
    };
    let (year, month, day) = (number(6..10), number(10..12), number(12..14));
    if !(1900..=2099).contains(&year) || !(1..=12).contains(&month) || !(1..=31).contains(&day) {
        return false;
    }
    let sum: u32 = bytes[..17]
        .iter()
        .zip(WEIGHTS)
        .map(|(b, w)| u32::from(b - b'0') * w)
        .sum();
    let expected = CHECK[(sum % 11) as usize];
    bytes[17].to_ascii_uppercase() == expected
}

/// A US social security number: area not 000, 666 or 900-999, group not 00, serial not 0000.
fn us_ssn(value: &str) -> bool {
    let digits: Vec<u32> = digits(value).collect();
    if digits.len() != 9 {
        return false;
    }
    let area = digits[..3].iter().fold(0, |acc, d| acc * 10 + d);
    let group = digits[3] * 10 + digits[4];
    let serial = digits[5..].iter().fold(0, |acc, d| acc * 10 + d);
    area != 0 && area != 666 && area < 900 && group != 0 && serial != 0
}

/// An IPv4 address (four octets up to 255, not part of a longer dotted run such as a version
/// number) or an IPv6 address that `std` parses, with at least two non-empty groups so that a
/// lone `::` or `::1` in code is not flagged.
fn ip_address(text: &str, start: usize, end: usize) -> bool {
    let value = &text[start..end];
    let prev = before(text, start);
    let next_two: Vec<char> = text[end..].chars().take(2).collect();
    if value.contains(':') {
        let edge = |c: Option<char>| {
            c.is_some_and(|c| c.is_ascii_alphanumeric() || c == ':' || c == '.' || c == '_')
        };
        let groups = value.split(':').filter(|g| !g.is_empty()).count();
        return !edge(prev)
            && !edge(next_two.first().copied())
            && groups >= 2
            && value.parse::<Ipv6Addr>().is_ok();
    }
    let dotted_run = |c: Option<char>| c.is_some_and(|c| c == '.' || c.is_ascii_digit());
    let continues =
        next_two.first() == Some(&'.') && next_two.get(1).is_some_and(char::is_ascii_digit);
    let octets_ok = value
        .split('.')
        .all(|octet| octet.len() <= 3 && octet.parse::<u32>().is_ok_and(|n| n <= 255));
    !dotted_run(prev) && !continues && octets_ok
}

/// A secret's shape is in its pattern; the generic `sk-` shape also needs a digit after its
/// prefix, which random keys all but always have and hyphenated words (`sk-learn-…`) do not.
fn secret(value: &str) -> bool {
    match value.strip_prefix("sk-") {
        Some(rest) => rest.bytes().any(|b| b.is_ascii_digit()),
        None => true,
    }
}

/// A deny word is matched as a whole word where it starts or ends with an ASCII letter or digit
/// (`project-x` is not found in `project-xyz`); scripts without spaces between words, such as
/// Chinese, match anywhere.
fn word_edges(text: &str, start: usize, end: usize) -> bool {
    let value = &text[start..end];
    let alnum = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric());
    let first = value.chars().next();
    let last = value.chars().next_back();
    let glued_before = alnum(first) && alnum(before(text, start));
    let glued_after = alnum(last) && alnum(after(text, end));
    !glued_before && !glued_after
}
