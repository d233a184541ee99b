//! The authenticate phase: finds the client's key in `Authorization: Bearer`, `x-api-key`,
//! `api-key` or `x-goog-api-key` (Gemini's clients; `?key=` becomes it), and turns it into a caller, or refuses with 401 saying why (never repeating the key).

use std::sync::Arc;
use std::time::SystemTime;

use http::HeaderMap;
use switchyard_shared::ClientAuth;

use super::Caller;
use crate::client_key;
use crate::consumers::Consumers;
use crate::proxy::ProxyError;

/// The key the client presented, if any: the first Switchyard-looking (`sy-`) value among the
/// three headers, else the first value at all. SDKs send placeholder keys (`unused`) where they
/// must send one; those are not Switchyard keys.
pub fn presented_key(headers: &HeaderMap) -> Option<&str> {
    let bearer = headers
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            let (scheme, token) = v.trim().split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
        });
    let plain = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
    };
    let candidates = [
        bearer,
        plain("x-api-key"),
        plain("api-key"),
        plain("x-goog-api-key"),
    ];
    candidates
        .iter()
        .flatten()
        .find(|key| key.starts_with(client_key::PREFIX))
        .or_else(|| candidates.iter().flatten().find(|key| !key.is_empty()))
        .copied()
}

/// Who is calling, under the client-auth `mode` in force.
pub fn authenticate(
    headers: &HeaderMap,
    consumers: &Consumers,
    mode: ClientAuth,
    now: SystemTime,
) -> Result<Caller, ProxyError> {
    let presented = presented_key(headers);
    let key = match presented {
        Some(key) if key.starts_with(client_key::PREFIX) => key,
        _ if mode == ClientAuth::Off => return Ok(Caller::Anonymous),
        None => {
            return Err(ProxyError::InvalidApiKey(
                "You didn't provide an API key. This gateway requires a Switchyard key \
                 (sy-…), sent as `Authorization: Bearer`, `x-api-key`, `api-key` or (Gemini's \
                 API) `x-goog-api-key` or `?key=`."
                    .into(),
            ));
        }
        Some(_) => {
            return Err(ProxyError::InvalidApiKey(
                "The API key provided is not a Switchyard key. This gateway requires a key \
                 issued by its operator (sy-…)."
                    .into(),
            ));
        }
    };
    if !client_key::is_well_formed(key) {
        return Err(ProxyError::InvalidApiKey(
            "The API key provided is malformed: its checksum does not match, so it was \
             mistyped or cut short."
                .into(),
        ));
    }
    let Some(found) = consumers.key(&client_key::digest(key)) else {
        return Err(ProxyError::InvalidApiKey(
            "The API key provided is not valid: it was never issued here or has been revoked."
                .into(),
        ));
    };
    let consumer = &found.consumer.name;
    if found.consumer.disabled {
        return Err(ProxyError::InvalidApiKey(format!(
            "Consumer '{consumer}' is disabled."
        )));
    }
    if found.disabled {
        return Err(ProxyError::InvalidApiKey(format!(
            "The API key '{}' of consumer '{consumer}' is disabled.",
            found.name
        )));
    }
    if found.expired(now) {
        let at = found
            .expires_at
            .map(|at| humantime::format_rfc3339_seconds(at).to_string())
            .unwrap_or_default();
        return Err(ProxyError::InvalidApiKey(format!(
            "The API key '{}' of consumer '{consumer}' expired at {at}.",
            found.name
        )));
    }
    Ok(Caller::Key(Arc::clone(found)))
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use http::HeaderValue;
    use switchyard_shared::{ConsumerSpec, Limits};

    use super::*;
    use crate::store::{StoredConsumer, StoredKey};

    fn consumers(key: &str, disabled: bool, consumer_disabled: bool) -> Consumers {
        let stored = StoredConsumer {
            id: 1,
            spec: ConsumerSpec {
                name: "team-a".into(),
                disabled: consumer_disabled,
                ..ConsumerSpec::default()
            },
            keys: vec![StoredKey {
                id: 2,
                consumer_id: 1,
                name: "ci".into(),
                digest_hex: client_key::digest_hex(key),
                last4: None,
                allowed_models: vec![],
                limits: Limits::default(),
                budget: None,
                disabled,
                expires_at_ms: Some(10_000),
                created_at_ms: 0,
                last_used_ms: None,
            }],
        };
        Consumers::build(&[stored], &Default::default(), &Default::default(), &|_| {
            Ok(Vec::new())
        })
        .expect("builds")
    }

    fn headers(name: &'static str, value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(name, HeaderValue::from_str(value).expect("header"));
        headers
    }

    fn message(result: Result<Caller, ProxyError>) -> String {
        match result {
            Err(ProxyError::InvalidApiKey(message)) => message,
            other => panic!("expected a 401, got {other:?}"),
        }
    }

    const EARLY: SystemTime = UNIX_EPOCH;

    #[test]
    fn reads_all_three_headers() {
        let key = client_key::generate();
        let table = consumers(&key, false, false);
        for (name, value) in [
            ("authorization", format!("Bearer {key}")),
            ("authorization", format!("bearer  {key}")),
            ("x-api-key", key.clone()),
            ("api-key", key.clone()),
        ] {
            let caller = authenticate(&headers(name, &value), &table, ClientAuth::Required, EARLY)
                .expect("accepted");
            assert_eq!(caller.consumer_name(), Some("team-a"), "{name}");
        }
        let mut both = headers("authorization", "Bearer unused");
        both.insert("x-api-key", HeaderValue::from_str(&key).expect("header"));
        assert_eq!(presented_key(&both), Some(key.as_str()));
    }

    #[test]
    fn anonymous_only_while_off_and_without_a_switchyard_key() {
        let key = client_key::generate();
        let table = consumers(&key, false, false);
        let none = HeaderMap::new();
        let placeholder = headers("authorization", "Bearer unused");
        assert!(matches!(
            authenticate(&none, &table, ClientAuth::Off, EARLY),
            Ok(Caller::Anonymous)
        ));
        assert!(matches!(
            authenticate(&placeholder, &table, ClientAuth::Off, EARLY),
            Ok(Caller::Anonymous)
        ));
        assert!(
            message(authenticate(&none, &table, ClientAuth::Required, EARLY))
                .contains("didn't provide")
        );
        assert!(
            message(authenticate(
                &placeholder,
                &table,
                ClientAuth::Required,
                EARLY
            ))
            .contains("not a Switchyard key")
        );
    }

    #[test]
    fn every_bad_key_says_why_without_echoing_it() {
        let key = client_key::generate();
        // The last character changed, so the checksum fails: to another one than it was, or one
        // key in sixty-odd (those ending in `x`) would be no typo at all.
        let last = if key.ends_with('x') { 'y' } else { 'x' };
        let typo = format!("{}{last}", &key[..key.len() - 1]);
        let other = client_key::generate();
        for mode in [ClientAuth::Off, ClientAuth::Required] {
            let table = consumers(&key, false, false);
            let bearer = |k: &str| headers("authorization", &format!("Bearer {k}"));
            let text = message(authenticate(&bearer(&typo), &table, mode, EARLY));
            assert!(
                text.contains("malformed") && !text.contains(&typo[3..]),
                "{text}"
            );
            let text = message(authenticate(&bearer(&other), &table, mode, EARLY));
            assert!(
                text.contains("not valid") && !text.contains(&other[3..]),
                "{text}"
            );
            let late = UNIX_EPOCH + Duration::from_secs(11);
            assert!(message(authenticate(&bearer(&key), &table, mode, late)).contains("expired"));
            let disabled = consumers(&key, true, false);
            assert!(
                message(authenticate(&bearer(&key), &disabled, mode, EARLY))
                    .contains("'ci' of consumer 'team-a' is disabled")
            );
            let consumer_off = consumers(&key, false, true);
            assert!(
                message(authenticate(&bearer(&key), &consumer_off, mode, EARLY))
                    .contains("Consumer 'team-a' is disabled")
            );
        }
    }
}
