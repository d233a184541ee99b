//! The authorize phase: may this caller use this route and this model? Runs after routing, so the
//! route's own access rule (`auth.allowed_consumers`) applies alongside the consumer's and key's.

use super::Caller;
use crate::proxy::ProxyError;
use crate::snapshot::Route;

pub fn authorize(caller: &Caller, route: &Route, model: &str) -> Result<(), ProxyError> {
    let Some(key) = caller.key() else {
        if route.allowed_consumers.is_some() {
            return Err(ProxyError::InvalidApiKey(format!(
                "Route '{}' is open only to some consumers; send one of their Switchyard keys.",
                route.name
            )));
        }
        return Ok(());
    };
    let consumer = &key.consumer;
    let route_allows = route
        .allowed_consumers
        .as_ref()
        .is_none_or(|allowed| allowed.contains(&*consumer.name));
    let consumer_allows =
        consumer.allowed_routes.is_empty() || consumer.allowed_routes.contains(&*route.name);
    if !route_allows || !consumer_allows {
        return Err(ProxyError::RouteNotAllowed(format!(
            "Consumer '{}' may not use route '{}' (which serves the model `{model}`).",
            consumer.name, route.name
        )));
    }
    if !key.allows_model(model) {
        return Err(ProxyError::ModelNotAllowed {
            model: model.to_owned(),
            consumer: consumer.name.to_string(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;
    use std::sync::Arc;

    use switchyard_shared::{ConsumerSpec, Limits};

    use super::*;
    use crate::client_key;
    use crate::consumers::Consumers;
    use crate::store::{StoredConsumer, StoredKey};

    fn caller(models: &[&str], routes: &[&str]) -> Caller {
        let stored = StoredConsumer {
            id: 1,
            spec: ConsumerSpec {
                name: "team-a".into(),
                allowed_models: models.iter().map(|m| (*m).to_owned()).collect(),
                allowed_routes: routes.iter().map(|r| (*r).to_owned()).collect(),
                ..ConsumerSpec::default()
            },
            keys: vec![StoredKey {
                id: 2,
                consumer_id: 1,
                name: "ci".into(),
                digest_hex: client_key::digest_hex("sy-k"),
                last4: None,
                allowed_models: vec![],
                limits: Limits::default(),
                budget: None,
                disabled: false,
                expires_at_ms: None,
                created_at_ms: 0,
                last_used_ms: None,
            }],
        };
        let table = Consumers::build(&[stored], &Default::default(), &Default::default(), &|_| {
            Ok(Vec::new())
        })
        .expect("builds");
        Caller::Key(Arc::clone(
            table.key(&client_key::digest("sy-k")).expect("key"),
        ))
    }

    fn route(allowed: Option<&[&str]>) -> Route {
        crate::snapshot::test_route(
            "chat",
            allowed.map(|names| {
                names
                    .iter()
                    .map(|n| (*n).to_owned())
                    .collect::<HashSet<_>>()
            }),
        )
    }

    #[test]
    fn models_and_routes_are_checked() {
        let open = route(None);
        assert!(authorize(&Caller::Anonymous, &open, "gpt-4o").is_ok());
        assert!(authorize(&caller(&[], &[]), &open, "gpt-4o").is_ok());
        let narrow = caller(&["deepseek-*"], &[]);
        assert!(authorize(&narrow, &open, "deepseek-chat").is_ok());
        match authorize(&narrow, &open, "gpt-4o") {
            Err(error @ ProxyError::ModelNotAllowed { .. }) => {
                assert_eq!(
                    error.to_string(),
                    "The model `gpt-4o` is not allowed for consumer 'team-a'."
                );
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            authorize(&caller(&[], &["other"]), &open, "m"),
            Err(ProxyError::RouteNotAllowed(_))
        ));
        assert!(authorize(&caller(&[], &["chat"]), &open, "m").is_ok());
    }

    #[test]
    fn a_route_rule_admits_only_its_consumers() {
        let only_a = route(Some(&["team-a"]));
        let only_b = route(Some(&["team-b"]));
        assert!(authorize(&caller(&[], &[]), &only_a, "m").is_ok());
        assert!(matches!(
            authorize(&caller(&[], &[]), &only_b, "m"),
            Err(ProxyError::RouteNotAllowed(_))
        ));
        assert!(matches!(
            authorize(&Caller::Anonymous, &only_a, "m"),
            Err(ProxyError::InvalidApiKey(_))
        ));
    }
}
