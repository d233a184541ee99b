//! Provider secrets at rest: the optional master key, and sealing with it.
//!
//! With a master key (`SWITCHYARD_MASTER_KEY`, 64 hex characters, or `--master-key-file`), the
//! store seals every provider key and custom header value before writing it, as
//! `sealed:v1:<base64(nonce || ciphertext)>`: XChaCha20-Poly1305 with a fresh random 192-bit
//! nonce per value. Values are unsealed when the configuration is parsed, which the reloader does
//! on its background thread, never on the request path. The database remembers a sealed check
//! value (`meta.key_check`), so a start with another key fails before anything is served, and a
//! start without a key on a sealed database says that one is needed.
//!
//! The key itself is never logged: [`MasterKey`] and [`MasterKeyText`] print as `<redacted>`, and
//! the command line refuses the key as an argument (other users can read arguments in `ps`).

use std::borrow::Cow;
use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{Key, XChaCha20Poly1305, XNonce};
use zeroize::Zeroizing;

use crate::cli::ServeArgs;

/// The environment variable that holds the master key itself.
pub const MASTER_KEY_ENV: &str = "SWITCHYARD_MASTER_KEY";
/// What every sealed value starts with; the version names the algorithm and layout.
const PREFIX: &str = "sealed:v1:";
/// Associated data: binds every sealed value to this purpose and version.
const AAD: &[u8] = b"switchyard provider secret v1";
const NONCE_LEN: usize = 24;
const TAG_LEN: usize = 16;
/// The plaintext of the check value stored in `meta.key_check`.
const KEY_CHECK: &str = "switchyard master key check v1";

/// Why a sealed value could not be read.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SecretsError {
    #[error(
        "this database's provider secrets are sealed: a master key is needed to read them; set SWITCHYARD_MASTER_KEY or --master-key-file to the key the database was sealed with"
    )]
    KeyNeeded,
    #[error(
        "the master key does not match the one this database was sealed with (set SWITCHYARD_MASTER_KEY or --master-key-file to that key)"
    )]
    WrongKey,
    #[error("a sealed secret in the database is damaged: {0}")]
    Malformed(&'static str),
    #[error("sealing a secret failed")]
    SealFailed,
}

/// The 32-byte master key, ready to seal and unseal. Never printed.
pub struct MasterKey {
    cipher: XChaCha20Poly1305,
}

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MasterKey(<redacted>)")
    }
}

impl MasterKey {
    /// Reads a key written as 64 hex characters (surrounding white space ignored). The error
    /// never repeats the text, which may be a near miss of the real key.
    pub fn from_hex(text: &str) -> Result<MasterKey, &'static str> {
        let text = text.trim();
        if text.len() != 64 {
            return Err(
                "must be 64 hex characters (32 bytes); `switchyard secrets new-key` makes one",
            );
        }
        let mut bytes = Zeroizing::new([0u8; 32]);
        for (i, pair) in text.as_bytes().chunks_exact(2).enumerate() {
            let high = hex_digit(pair[0]).ok_or("must contain only hex characters (0-9, a-f)")?;
            let low = hex_digit(pair[1]).ok_or("must contain only hex characters (0-9, a-f)")?;
            bytes[i] = (high << 4) | low;
        }
        Ok(MasterKey {
            cipher: XChaCha20Poly1305::new(Key::from_slice(bytes.as_slice())),
        })
    }

    /// Reads the key from a file holding its 64 hex characters. A file that others can read is
    /// accepted with a warning.
    pub fn from_file(path: &Path) -> anyhow::Result<MasterKey> {
        let text = Zeroizing::new(
            std::fs::read_to_string(path)
                .with_context(|| format!("cannot read the master key file {}", path.display()))?,
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            if let Ok(meta) = std::fs::metadata(path)
                && meta.permissions().mode() & 0o077 != 0
            {
                tracing::warn!(
                    file = %path.display(),
                    "the master key file can be read by other users; chmod 600 it"
                );
            }
        }
        MasterKey::from_hex(&text)
            .map_err(|e| anyhow::anyhow!("the master key in {} {e}", path.display()))
    }

    /// A new random key as 64 hex characters.
    pub fn generate_hex() -> String {
        let mut bytes = Zeroizing::new([0u8; 32]);
        getrandom::fill(bytes.as_mut_slice())
            .unwrap_or_else(|e| panic!("the OS random source failed: {e}"));
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }
}

fn hex_digit(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// The master key as clap reads it from `SWITCHYARD_MASTER_KEY`: text that prints as
/// `<redacted>`, so a `{:?}` of the arguments cannot show it.
#[derive(Clone)]
pub struct MasterKeyText(Zeroizing<String>);

impl From<String> for MasterKeyText {
    fn from(text: String) -> Self {
        MasterKeyText(Zeroizing::new(text))
    }
}

impl std::fmt::Debug for MasterKeyText {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}

/// The master key the arguments name, if any: `SWITCHYARD_MASTER_KEY` or `--master-key-file`.
pub fn master_key(args: &ServeArgs) -> anyhow::Result<Option<MasterKey>> {
    let from_env = std::env::var(MASTER_KEY_ENV).ok().map(Zeroizing::new);
    resolve_master_key(
        args.master_key.as_ref(),
        args.master_key_file.as_deref(),
        from_env.as_deref().map(String::as_str),
    )
}

fn resolve_master_key(
    text: Option<&MasterKeyText>,
    file: Option<&Path>,
    env: Option<&str>,
) -> anyhow::Result<Option<MasterKey>> {
    match (text, file) {
        (Some(_), Some(_)) => anyhow::bail!(
            "both {MASTER_KEY_ENV} and --master-key-file are set; give the master key one way"
        ),
        (Some(text), None) => {
            // clap fills this from the environment or from a hidden `--master-key` argument; the
            // latter would show the key to every user of the machine (`ps`), so it is refused.
            if env != Some(text.0.as_str()) {
                anyhow::bail!(
                    "the master key cannot be given on the command line, where other users can read it; set {MASTER_KEY_ENV} or use --master-key-file"
                );
            }
            MasterKey::from_hex(&text.0)
                .map(Some)
                .map_err(|e| anyhow::anyhow!("{MASTER_KEY_ENV} {e}"))
        }
        (None, Some(path)) => MasterKey::from_file(path).map(Some),
        (None, None) => Ok(None),
    }
}

/// Whether a stored value is sealed.
pub fn is_sealed(value: &str) -> bool {
    value.starts_with(PREFIX)
}

/// Seals and unseals stored secrets with the master key, or passes them through without one.
/// Cheap to clone.
#[derive(Clone, Debug, Default)]
pub struct Sealer(Option<Arc<MasterKey>>);

impl Sealer {
    /// Seals with `key`; `None` stores plaintext (and cannot read sealed values).
    pub fn new(key: Option<MasterKey>) -> Sealer {
        Sealer(key.map(Arc::new))
    }

    /// Whether a master key is set.
    pub fn is_active(&self) -> bool {
        self.0.is_some()
    }

    /// The value as it is to be stored: sealed with the master key, or as it is without one.
    pub fn seal(&self, plaintext: &str) -> Result<String, SecretsError> {
        match &self.0 {
            Some(key) => seal_with(key, plaintext),
            None => Ok(plaintext.to_owned()),
        }
    }

    /// A stored value in plaintext: sealed values are opened, plaintext ones returned as they are.
    pub fn unseal<'a>(&self, stored: &'a str) -> Result<Cow<'a, str>, SecretsError> {
        let Some(encoded) = stored.strip_prefix(PREFIX) else {
            return Ok(Cow::Borrowed(stored));
        };
        let key = self.0.as_ref().ok_or(SecretsError::KeyNeeded)?;
        let bytes = BASE64
            .decode(encoded)
            .map_err(|_| SecretsError::Malformed("not base64"))?;
        if bytes.len() < NONCE_LEN + TAG_LEN {
            return Err(SecretsError::Malformed("too short"));
        }
        let (nonce, ciphertext) = bytes.split_at(NONCE_LEN);
        let payload = Payload {
            msg: ciphertext,
            aad: AAD,
        };
        // The tag fails for a value sealed with another key (or altered): never serve garbage.
        let plaintext = key
            .cipher
            .decrypt(XNonce::from_slice(nonce), payload)
            .map_err(|_| SecretsError::WrongKey)?;
        String::from_utf8(plaintext)
            .map(Cow::Owned)
            .map_err(|_| SecretsError::Malformed("not UTF-8"))
    }

    /// A new check value for `meta.key_check`, sealed with the master key (`None` without one).
    pub fn key_check(&self) -> Result<Option<String>, SecretsError> {
        self.0
            .as_ref()
            .map(|key| seal_with(key, KEY_CHECK))
            .transpose()
    }

    /// Checks a database's stored check value against the master key: a sealed database needs
    /// the key it was sealed with.
    pub fn verify(&self, key_check: &str) -> Result<(), SecretsError> {
        match self.unseal(key_check)? {
            text if text == KEY_CHECK => Ok(()),
            _ => Err(SecretsError::WrongKey),
        }
    }
}

fn seal_with(key: &MasterKey, plaintext: &str) -> Result<String, SecretsError> {
    let mut nonce = [0u8; NONCE_LEN];
    getrandom::fill(&mut nonce).map_err(|_| SecretsError::SealFailed)?;
    let payload = Payload {
        msg: plaintext.as_bytes(),
        aad: AAD,
    };
    let ciphertext = key
        .cipher
        .encrypt(XNonce::from_slice(&nonce), payload)
        .map_err(|_| SecretsError::SealFailed)?;
    let mut sealed = Vec::with_capacity(NONCE_LEN + ciphertext.len());
    sealed.extend_from_slice(&nonce);
    sealed.extend_from_slice(&ciphertext);
    Ok(format!("{PREFIX}{}", BASE64.encode(sealed)))
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
    const OTHER: &str = "ff0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

    fn sealer(hex: &str) -> Sealer {
        Sealer::new(Some(MasterKey::from_hex(hex).expect("a valid key")))
    }

    #[test]
    fn values_round_trip_with_a_fresh_nonce_each() {
        let sealer = sealer(KEY);
        let secret = "sk-ant-very-secret-0123456789";
        let a = sealer.seal(secret).expect("seals");
        let b = sealer.seal(secret).expect("seals");
        assert!(is_sealed(&a), "{a}");
        assert!(!a.contains(secret));
        assert_ne!(a, b, "each value gets its own nonce");
        assert_eq!(sealer.unseal(&a).expect("unseals"), secret);
        assert_eq!(sealer.unseal(&b).expect("unseals"), secret);
        // Plaintext (a database not sealed yet) passes through.
        assert_eq!(sealer.unseal("sk-plain").expect("plain"), "sk-plain");
    }

    #[test]
    fn the_wrong_key_or_no_key_is_an_error_never_garbage() {
        let sealed = sealer(KEY).seal("sk-secret").expect("seals");
        assert_eq!(sealer(OTHER).unseal(&sealed), Err(SecretsError::WrongKey));
        assert_eq!(
            Sealer::default().unseal(&sealed),
            Err(SecretsError::KeyNeeded)
        );
        let check = sealer(KEY).key_check().expect("seals").expect("a check");
        assert_eq!(sealer(KEY).verify(&check), Ok(()));
        assert_eq!(sealer(OTHER).verify(&check), Err(SecretsError::WrongKey));
        assert!(
            SecretsError::WrongKey
                .to_string()
                .contains("the master key does not match the one this database was sealed with")
        );
        // A flipped bit fails the tag.
        let mut bytes = BASE64
            .decode(sealed.strip_prefix(PREFIX).expect("prefixed"))
            .expect("base64");
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        let tampered = format!("{PREFIX}{}", BASE64.encode(bytes));
        assert_eq!(sealer(KEY).unseal(&tampered), Err(SecretsError::WrongKey));
        assert_eq!(
            sealer(KEY).unseal("sealed:v1:AAAA"),
            Err(SecretsError::Malformed("too short"))
        );
    }

    #[test]
    fn keys_are_64_hex_characters_and_errors_do_not_repeat_them() {
        assert!(MasterKey::from_hex(&format!(" {KEY}\n")).is_ok());
        assert!(MasterKey::from_hex(&KEY.to_ascii_uppercase()).is_ok());
        let short = &KEY[..62];
        let error = MasterKey::from_hex(short).expect_err("too short");
        assert!(!error.contains(short));
        let bad = format!("{}zz", &KEY[..62]);
        assert!(MasterKey::from_hex(&bad).is_err());
        let generated = MasterKey::generate_hex();
        assert_eq!(generated.len(), 64);
        assert!(MasterKey::from_hex(&generated).is_ok());
        assert_ne!(generated, MasterKey::generate_hex());
        let key = MasterKey::from_hex(KEY).expect("valid");
        assert_eq!(format!("{key:?}"), "MasterKey(<redacted>)");
        assert_eq!(
            format!("{:?}", MasterKeyText::from(KEY.to_owned())),
            "<redacted>"
        );
    }

    #[test]
    fn the_key_comes_from_the_environment_or_a_file_never_the_command_line() {
        let text = MasterKeyText::from(KEY.to_owned());
        assert!(
            resolve_master_key(Some(&text), None, Some(KEY))
                .expect("from the environment")
                .is_some()
        );
        let error = resolve_master_key(Some(&text), None, None).expect_err("from argv");
        assert!(error.to_string().contains("command line"), "{error}");
        assert!(!error.to_string().contains(KEY));

        let dir = tempfile::tempdir().expect("a scratch dir");
        let file = dir.path().join("master.key");
        std::fs::write(&file, format!("{KEY}\n")).expect("written");
        assert!(
            resolve_master_key(None, Some(&file), None)
                .expect("from the file")
                .is_some()
        );
        assert!(resolve_master_key(Some(&text), Some(&file), Some(KEY)).is_err());
        assert!(
            resolve_master_key(None, None, None)
                .expect("none")
                .is_none()
        );
        std::fs::write(&file, "not-a-key").expect("written");
        let error = resolve_master_key(None, Some(&file), None).expect_err("invalid");
        assert!(!error.to_string().contains("not-a-key"), "{error}");
    }
}
