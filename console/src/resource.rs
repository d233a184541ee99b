//! The configuration resources the console manages by name (providers, routes, consumers,
//! guardrail policies): where
//! each lives in the admin API and in the console, and what to call it. The generic list, edit
//! page and save logic in `components/` work for any of them, so a new resource is one impl here
//! plus its own columns and inputs.

use serde::Serialize;
use serde::de::DeserializeOwned;
use switchyard_shared::{ConsumerSpec, GuardrailSpec, ProviderSpec, RouteSpec};

use crate::api;

pub trait Resource: Serialize + DeserializeOwned + Clone + Send + Sync + 'static {
    /// The collection in the admin API, such as `/api/providers`.
    const API: &'static str;
    /// The list page in the console, such as `/providers`.
    const PAGE: &'static str;
    /// What one is called in messages, and the prefix of its test ids: `provider`.
    const NOUN: &'static str;
    /// The list page's title, also the first breadcrumb of its forms.
    const TITLE: &'static str;

    fn name(&self) -> &str;

    /// The item's own page in the console.
    fn href(name: &str) -> String {
        format!("{}/{}", Self::PAGE, api::segment(name))
    }

    /// The item in the admin API.
    fn api_path(name: &str) -> String {
        format!("{}/{}", Self::API, api::segment(name))
    }

    /// Where the console goes after a save: the list, unless the resource says otherwise.
    fn saved_href(&self, _created: bool) -> String {
        Self::PAGE.to_owned()
    }
}

impl Resource for ProviderSpec {
    const API: &'static str = "/api/providers";
    const PAGE: &'static str = "/providers";
    const NOUN: &'static str = "provider";
    const TITLE: &'static str = "AI service providers";

    fn name(&self) -> &str {
        &self.name
    }
}

impl Resource for RouteSpec {
    const API: &'static str = "/api/routes";
    const PAGE: &'static str = "/routes";
    const NOUN: &'static str = "route";
    const TITLE: &'static str = "AI routes";

    fn name(&self) -> &str {
        &self.name
    }
}

impl Resource for ConsumerSpec {
    const API: &'static str = "/api/consumers";
    const PAGE: &'static str = "/consumers";
    const NOUN: &'static str = "consumer";
    const TITLE: &'static str = "Consumers";

    fn name(&self) -> &str {
        &self.name
    }

    /// A new consumer has no keys yet: its page, where the first one is created, comes next.
    fn saved_href(&self, created: bool) -> String {
        if created {
            Self::href(&self.name)
        } else {
            Self::PAGE.to_owned()
        }
    }
}

impl Resource for GuardrailSpec {
    const API: &'static str = "/api/guardrails";
    const PAGE: &'static str = "/guardrails";
    const NOUN: &'static str = "guardrail";
    const TITLE: &'static str = "Guardrails";

    fn name(&self) -> &str {
        &self.name
    }
}

/// A word with its first letter upper-cased, so one noun serves mid-sentence and at the start.
pub fn capitalized(word: &str) -> String {
    let mut chars = word.chars();
    chars
        .next()
        .map(|first| first.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capitalizes_the_first_letter() {
        assert_eq!(capitalized("provider"), "Provider");
        assert_eq!(capitalized("route"), "Route");
        assert_eq!(capitalized(""), "");
    }
}
