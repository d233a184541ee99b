//! Rules that answer requests by their key, path or model, ahead of the queue and the default.

use bytes::Bytes;
use http::HeaderMap;
use serde_json::Value;

use super::{MockState, Reply};

/// Which requests a rule answers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum When {
    /// Requests carrying `Authorization: Bearer <key>`.
    Key(String),
    /// Requests for this path (without the query), such as `/v1/models`.
    Path(String),
    /// Requests whose JSON body names this model.
    Model(String),
}

impl When {
    pub(super) fn matches(&self, path: &str, headers: &HeaderMap, body: &Bytes) -> bool {
        match self {
            When::Key(key) => headers
                .get("authorization")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.strip_prefix("Bearer "))
                .is_some_and(|presented| presented == key),
            When::Path(wanted) => path.split('?').next() == Some(wanted.as_str()),
            When::Model(model) => serde_json::from_slice::<Value>(body)
                .is_ok_and(|json| json["model"].as_str() == Some(model.as_str())),
        }
    }
}

/// A rule: the reply for the requests it matches, once or until removed.
pub(super) struct Rule {
    pub(super) when: When,
    pub(super) reply: Reply,
    pub(super) once: bool,
}

impl MockState {
    /// The reply for a request: a matching one-off rule, then a matching standing rule, then the
    /// queue, then the default.
    pub(super) fn reply_for(&self, path: &str, headers: &HeaderMap, body: &Bytes) -> Reply {
        let mut rules = self.rules.lock().expect("mock lock is not poisoned");
        let matching = |once: bool| {
            rules
                .iter()
                .position(|r| r.once == once && r.when.matches(path, headers, body))
        };
        if let Some(i) = matching(true) {
            return rules.remove(i).reply;
        }
        if let Some(i) = matching(false) {
            return rules[i].reply.clone();
        }
        drop(rules);
        self.queue
            .lock()
            .expect("mock lock is not poisoned")
            .pop_front()
            .or_else(|| {
                self.default
                    .lock()
                    .expect("mock lock is not poisoned")
                    .clone()
            })
            .unwrap_or(Reply::Echo)
    }
}
