//! Sticky sessions: a session's key (consumer, client key or header value) and weighted
//! rendezvous hashing, which keeps each session on one upstream and moves only the sessions of
//! an upstream that leaves.

use http::HeaderMap;

use super::choose::StickySource;
use crate::pipeline::Caller;

/// FNV-1a, 64 bits: names and header values to a session key, the same in every process.
pub fn fnv1a64(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for &byte in bytes {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash
}

/// A client key's session key: the first 8 bytes of its SHA-256 digest.
pub fn digest_key(digest: &[u8; 32]) -> u64 {
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    u64::from_le_bytes(first)
}

/// The splitmix64 finaliser: spreads a combined key and seed over all 64 bits.
pub fn mix64(mut x: u64) -> u64 {
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// A candidate's weighted rendezvous score for a session key: `weight / -ln(u)` with `u` in
/// (0, 1) derived from the key and the candidate's seed. The highest score wins, which gives each
/// candidate exactly its share of the weights (−ln(u)/w is an exponential race), moves only the
/// sessions of a candidate that leaves, and pulls sessions only towards one whose weight rises.
pub fn rendezvous(key: u64, seed: u64, weight: u32) -> f64 {
    // The top 53 bits as a double, offset by half a step so that `u` is never 0 or 1.
    let unit = ((mix64(key ^ seed) >> 11) as f64 + 0.5) / (1u64 << 53) as f64;
    f64::from(weight) / -unit.ln()
}

/// The session's key for this request; `None` when the request carries none (an anonymous
/// caller, or no such header).
pub fn session_key(source: &StickySource, caller: &Caller, headers: &HeaderMap) -> Option<u64> {
    match source {
        StickySource::Consumer => caller.key().map(|key| key.consumer.sticky),
        StickySource::Key => caller.key().map(|key| key.sticky),
        StickySource::Header(name) => headers
            .get(name)
            .map(|value| value.as_bytes())
            .filter(|value| !value.is_empty())
            .map(fnv1a64),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    #[test]
    fn fnv1a64_matches_the_reference_values() {
        assert_eq!(fnv1a64(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a64(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a64(b"foobar"), 0x8594_4171_f739_67e8);
    }

    #[test]
    fn rendezvous_scores_are_finite_and_proportional_to_the_weight() {
        // A key equal to the seed mixes to 0, the smallest `u`; the largest comes near 1.
        for (key, seed) in [(5, 5), (0, u64::MAX), (1, 2), (u64::MAX, 0)] {
            let score = rendezvous(key, seed, 1);
            assert!(score.is_finite() && score > 0.0, "{key} {seed}: {score}");
            let tripled = rendezvous(key, seed, 3);
            assert!(
                (tripled / score - 3.0).abs() < 1e-12,
                "{tripled} vs {score}"
            );
            assert_eq!(rendezvous(key, seed, 0), 0.0);
        }
        assert_ne!(rendezvous(1, 2, 1), rendezvous(1, 3, 1), "the seed matters");
    }

    #[test]
    fn session_keys_come_from_a_non_empty_header_or_a_known_caller() {
        let source = StickySource::Header(http::HeaderName::from_static("x-session-id"));
        let mut headers = HeaderMap::new();
        assert_eq!(session_key(&source, &Caller::Anonymous, &headers), None);
        headers.insert("x-session-id", HeaderValue::from_static(""));
        assert_eq!(session_key(&source, &Caller::Anonymous, &headers), None);
        headers.insert("x-session-id", HeaderValue::from_static("s-keep"));
        assert_eq!(
            session_key(&source, &Caller::Anonymous, &headers),
            Some(fnv1a64(b"s-keep"))
        );
        for by in [StickySource::Consumer, StickySource::Key] {
            assert_eq!(session_key(&by, &Caller::Anonymous, &headers), None);
        }
    }
}
