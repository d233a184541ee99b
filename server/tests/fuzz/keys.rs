//! Provider keys as the operator stores them: an AWS access key (`AwsCredentials::parse`) and a
//! Google service account's key file (`vertex::ServiceAccount::parse`). Both are read from
//! configuration, and a broken one must be refused with a message, never a panic, and never be
//! quoted back.

use proptest::prelude::*;
use serde_json::{Value, json};
use switchyard::protocols::bedrock::AwsCredentials;
use switchyard::protocols::vertex::ServiceAccount;

use crate::{config, json_value, string, words};

/// The 2048-bit RSA key made for the Vertex tests (`vertex/tests_token.rs`): it signs nothing
/// anywhere else.
const TEST_KEY_PEM: &str = include_str!("../data/vertex-test-key.pem");

/// A part of an AWS key: its usual alphabet, or anything.
fn key_part() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => "[A-Za-z0-9/+=]{0,24}",
        1 => string(),
    ]
}

/// A private key: the test key, the test key damaged, a PKCS#1 block, or anything.
fn private_key() -> impl Strategy<Value = Value> {
    prop_oneof![
        8 => Just(Value::from(TEST_KEY_PEM)),
        2 => (0..TEST_KEY_PEM.len(), "[A-Za-z0-9+/=\n-]").prop_map(|(at, with)| {
            let mut key = TEST_KEY_PEM.to_owned();
            if key.is_char_boundary(at) {
                key.insert_str(at, &with);
            }
            Value::from(key)
        }),
        1 => Just(Value::from("-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----\n")),
        1 => Just(Value::from("-----BEGIN PRIVATE KEY-----\n!!!!\n-----END PRIVATE KEY-----\n")),
        1 => json_value(),
    ]
}

#[rustfmt::skip]
const TOKEN_URIS: &[&str] = &[
    "https://oauth2.googleapis.com/token", "http://127.0.0.1:9/token", "http://localhost/token",
    "http://[::1]/t", "http://example.com/token", "https://", "ftp://x/token", "not a url", "",
];

/// A key file as the Cloud console downloads it, each field now and then missing or odd.
fn key_file() -> impl Strategy<Value = Value> {
    let field = |value: BoxedStrategy<Value>| proptest::option::weighted(0.95, value);
    (
        field(words(&[
            "service_account",
            "service_account",
            "service_account",
            "external_account",
        ])),
        field(words(&["gateway@my-project.iam.gserviceaccount.com"; 3])),
        field(words(&[
            "0123456789abcdef",
            "0123456789abcdef",
            "0123456789abcdef",
            "",
        ])),
        field(private_key().boxed()),
        proptest::option::weighted(0.3, words(TOKEN_URIS)),
        proptest::option::weighted(0.5, words(&["my-project", ""])),
    )
        .prop_map(|(kind, email, key_id, key, token_uri, project)| {
            let mut file = json!({});
            for (name, value) in [
                ("type", kind),
                ("client_email", email),
                ("private_key_id", key_id),
                ("private_key", key),
                ("token_uri", token_uri),
                ("project_id", project),
            ] {
                if let Some(value) = value {
                    file[name] = value;
                }
            }
            file
        })
}

proptest! {
    #![proptest_config(config(128))]

    #[test]
    fn aws_keys_are_read_back_as_written(
        text in prop_oneof![
            2 => (key_part(), key_part(), proptest::option::of(key_part())).prop_map(|(id, secret, token)| {
                match token {
                    Some(token) => format!("{id}:{secret}:{token}"),
                    None => format!("{id}:{secret}"),
                }
            }),
            1 => string(),
        ],
    ) {
        let Ok(credentials) = AwsCredentials::parse(&text) else {
            return Ok(());
        };
        let mut written = format!("{}:{}", credentials.access_key_id, credentials.secret_access_key);
        if let Some(token) = &credentials.session_token {
            written = format!("{written}:{token}");
        }
        prop_assert_eq!(written.as_str(), text.trim());
        prop_assert!(credentials.access_key_id.bytes().all(|b| b.is_ascii_alphanumeric()));
        // The secret never shows in logs.
        let shown = format!("{credentials:?}");
        let secret = &credentials.secret_access_key;
        if secret.len() >= 12 && !credentials.access_key_id.contains(secret.as_str()) {
            prop_assert!(!shown.contains(secret.as_str()), "{}", shown);
        }
    }

    #[test]
    fn service_account_keys_parse_or_name_what_is_wrong(
        file in prop_oneof![8 => key_file(), 1 => json_value()],
        as_text in prop_oneof![8 => Just(None), 1 => string().prop_map(Some)],
    ) {
        let text = as_text.unwrap_or_else(|| file.to_string());
        match ServiceAccount::parse(&text) {
            Ok(account) => {
                // The assertion goes only to an https endpoint, or to this machine.
                let endpoint = account.token_endpoint();
                let host = endpoint.host().unwrap_or_default();
                let local = ["127.0.0.1", "localhost", "[::1]"].contains(&host);
                prop_assert!(
                    endpoint.scheme_str() == Some("https") || (endpoint.scheme_str() == Some("http") && local),
                    "{}", endpoint
                );
                let shown = format!("{account:?}");
                prop_assert!(!shown.contains("PRIVATE KEY"), "{}", shown);
            }
            Err(error) => {
                prop_assert!(!error.is_empty());
                prop_assert!(!error.contains("MIIEvQ"), "the key is quoted: {}", error);
            }
        }
    }
}
