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

/// The session's key for this request; `None` when the request carries none (an anonymous
/// caller, or no such header).
pub fn session_key(source: &StickySource, caller: &Caller, headers: &HeaderMap) -> Option<u64> {
    // The scoring itself comes with the strategies; the keys are fixed here.
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
