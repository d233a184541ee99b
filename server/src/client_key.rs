//! Client API keys: making them, recognising them offline, and the digest they are stored and
//! looked up by.
//!
//! A key is `sy-`, 30 base62 characters from the OS random source (178 bits), and 6 base62
//! characters of the CRC-32 of those 30: a leak scanner can tell a Switchyard key from noise, and
//! the gateway refuses a mistyped key before any lookup. Only the SHA-256 digest is stored.

use sha2::{Digest, Sha256};

pub const PREFIX: &str = "sy-";
const RANDOM_LEN: usize = 30;
const CHECKSUM_LEN: usize = 6;
/// The length of a whole key, prefix included.
pub const KEY_LEN: usize = PREFIX.len() + RANDOM_LEN + CHECKSUM_LEN;
const ALPHABET: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// A key's SHA-256 digest, the form it is stored and looked up in.
pub type KeyDigest = [u8; 32];

/// A new random key.
pub fn generate() -> String {
    let mut random = String::with_capacity(RANDOM_LEN);
    let mut bytes = [0u8; 64];
    while random.len() < RANDOM_LEN {
        // The OS random source failing is not recoverable; without it no secret can be made.
        getrandom::fill(&mut bytes).unwrap_or_else(|e| panic!("the OS random source failed: {e}"));
        // Rejection sampling keeps every character equally likely: 248 = 4 × 62.
        for byte in bytes.iter().filter(|b| **b < 248) {
            if random.len() == RANDOM_LEN {
                break;
            }
            random.push(char::from(ALPHABET[usize::from(*byte % 62)]));
        }
    }
    let checksum = checksum(&random);
    format!("{PREFIX}{random}{checksum}")
}

/// The CRC-32 of the random part, as 6 base62 characters (62^6 > 2^32).
fn checksum_bytes(random: &str) -> [u8; CHECKSUM_LEN] {
    let mut value = crc32fast::hash(random.as_bytes());
    let mut out = [b'0'; CHECKSUM_LEN];
    for slot in out.iter_mut().rev() {
        *slot = ALPHABET[(value % 62) as usize];
        value /= 62;
    }
    out
}

fn checksum(random: &str) -> String {
    checksum_bytes(random)
        .iter()
        .map(|b| char::from(*b))
        .collect()
}

/// Whether `key` has a Switchyard key's shape and a correct checksum.
pub fn is_well_formed(key: &str) -> bool {
    let Some(rest) = key.strip_prefix(PREFIX) else {
        return false;
    };
    if rest.len() != RANDOM_LEN + CHECKSUM_LEN || !rest.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return false;
    }
    let (random, sum) = rest.split_at(RANDOM_LEN);
    // Checked on every request with a key: compared as bytes, nothing allocated.
    checksum_bytes(random) == sum.as_bytes()
}

pub fn digest(key: &str) -> KeyDigest {
    Sha256::digest(key.as_bytes()).into()
}

/// The digest as lowercase hex, the form in the database and in exports.
pub fn digest_hex(key: &str) -> String {
    to_hex(&digest(key))
}

pub fn to_hex(digest: &KeyDigest) -> String {
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// Parses a hex digest; `None` unless it is 64 hex digits.
pub fn from_hex(hex: &str) -> Option<KeyDigest> {
    if hex.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, slot) in out.iter_mut().enumerate() {
        *slot = u8::from_str_radix(hex.get(i * 2..i * 2 + 2)?, 16).ok()?;
    }
    Some(out)
}

/// The last four characters, kept to show the masked form.
pub fn last4(key: &str) -> String {
    key.get(key.len().saturating_sub(4)..)
        .unwrap_or_default()
        .to_owned()
}

/// The masked form shown after creation: `sy-…k3Qz`.
pub fn masked(last4: Option<&str>) -> String {
    match last4 {
        Some(last4) => format!("{PREFIX}…{last4}"),
        None => format!("{PREFIX}…"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_are_well_formed_and_distinct() {
        let a = generate();
        let b = generate();
        assert_ne!(a, b);
        assert_eq!(a.len(), KEY_LEN);
        assert!(a.starts_with("sy-"));
        assert!(is_well_formed(&a), "{a}");
        assert!(is_well_formed(&b), "{b}");
    }

    #[test]
    fn a_typo_breaks_the_checksum() {
        let key = generate();
        let mut chars: Vec<char> = key.chars().collect();
        let at = 10;
        chars[at] = if chars[at] == 'a' { 'b' } else { 'a' };
        let typo: String = chars.into_iter().collect();
        assert!(!is_well_formed(&typo));
        assert!(!is_well_formed(&key[..key.len() - 1]));
        assert!(!is_well_formed("sy-"));
        assert!(!is_well_formed("unused"));
    }

    #[test]
    fn digests_round_trip_through_hex() {
        let key = generate();
        let hex = digest_hex(&key);
        assert_eq!(hex.len(), 64);
        assert_eq!(from_hex(&hex), Some(digest(&key)));
        assert_eq!(from_hex("zz"), None);
        assert_eq!(from_hex(&"g".repeat(64)), None);
        assert_eq!(masked(Some(&last4(&key))).chars().count(), 8);
    }
}
