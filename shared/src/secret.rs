//! Masking of secrets (API keys, tokens) for display: enough to recognise a key, never enough to use it.

/// The character that marks a masked secret. A real key never contains it, which lets the server
/// tell a masked key sent back by a client from a new key.
pub const MASK_MARK: char = '…';

/// Masks a secret as `sk-…f3a9`: a short prefix, the mark, and the last four characters.
/// Short secrets show less, so that the visible part is never most of the secret.
pub fn mask_secret(secret: &str) -> String {
    let chars: Vec<char> = secret.chars().collect();
    let (head, tail) = match chars.len() {
        0..=7 => (0, 0),
        8..=15 => (0, 4),
        _ => (3, 4),
    };
    let mut masked = String::with_capacity(head + tail + MASK_MARK.len_utf8());
    masked.extend(&chars[..head]);
    masked.push(MASK_MARK);
    masked.extend(&chars[chars.len() - tail..]);
    masked
}

/// Whether a string looks like the output of [`mask_secret`] rather than a real secret.
pub fn is_masked(value: &str) -> bool {
    value.contains(MASK_MARK)
}

/// Whether `shown` is the masked form of `secret`: a masked value sent back stands for the
/// stored secret it masks.
pub fn is_mask_of(secret: &str, shown: &str) -> bool {
    is_masked(shown) && mask_secret(secret) == shown
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_keys_keep_prefix_and_last_four() {
        assert_eq!(mask_secret("sk-abcdefghijklmnopf3a9"), "sk-…f3a9");
    }

    #[test]
    fn short_keys_reveal_little() {
        assert_eq!(mask_secret("abc"), "…");
        assert_eq!(mask_secret("abcdefghij"), "…ghij");
        assert!(is_masked(&mask_secret("whatever-key")));
        assert!(!is_masked("sk-real"));
        assert!(is_mask_of("sk-abcdefghijklmnopf3a9", "sk-…f3a9"));
        assert!(!is_mask_of("sk-abcdefghijklmnopf3a9", "sk-…f3a8"));
    }
}
