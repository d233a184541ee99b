//! A provider's model-name mapping, indexed for lookup: exact keys, then the longest `prefix*`, then `*`.

use std::collections::{BTreeMap, HashMap};

#[derive(Debug, Default)]
pub struct ModelMapping {
    exact: HashMap<Box<str>, Box<str>>,
    /// Sorted longest first, so the first match is the longest.
    prefixes: Vec<(Box<str>, Box<str>)>,
    catch_all: Option<Box<str>>,
}

impl ModelMapping {
    pub fn new(mapping: &BTreeMap<String, String>) -> ModelMapping {
        let mut compiled = ModelMapping::default();
        for (key, value) in mapping {
            let value: Box<str> = value.as_str().into();
            if key == "*" {
                compiled.catch_all = Some(value);
            } else if let Some(prefix) = key.strip_suffix('*') {
                compiled.prefixes.push((prefix.into(), value));
            } else {
                compiled.exact.insert(key.as_str().into(), value);
            }
        }
        compiled
            .prefixes
            .sort_by(|a, b| b.0.len().cmp(&a.0.len()).then_with(|| a.0.cmp(&b.0)));
        compiled
    }

    /// The name to send upstream for `model`; an empty mapped value keeps `model`.
    pub fn map<'a>(&'a self, model: &'a str) -> &'a str {
        let mapped = self
            .exact
            .get(model)
            .or_else(|| {
                self.prefixes
                    .iter()
                    .find(|(prefix, _)| model.starts_with(&**prefix))
                    .map(|(_, value)| value)
            })
            .or(self.catch_all.as_ref());
        match mapped {
            Some(value) if !value.is_empty() => value,
            _ => model,
        }
    }

    /// Every non-empty target name, for `/v1/models`.
    pub fn targets(&self) -> impl Iterator<Item = &str> {
        self.exact
            .values()
            .chain(self.prefixes.iter().map(|(_, v)| v))
            .chain(self.catch_all.iter())
            .map(|v| &**v)
            .filter(|v| !v.is_empty())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn precedence_is_exact_then_longest_prefix_then_catch_all() {
        let mapping = ModelMapping::new(&BTreeMap::from([
            ("gpt-4".to_owned(), "exact".to_owned()),
            ("gpt-*".to_owned(), "short".to_owned()),
            ("gpt-4o*".to_owned(), "long".to_owned()),
            ("keep*".to_owned(), String::new()),
            ("*".to_owned(), "any".to_owned()),
        ]));
        assert_eq!(mapping.map("gpt-4"), "exact");
        assert_eq!(mapping.map("gpt-4o-mini"), "long");
        assert_eq!(mapping.map("gpt-3.5"), "short");
        assert_eq!(mapping.map("keep-me"), "keep-me");
        assert_eq!(mapping.map("other"), "any");
        assert_eq!(ModelMapping::default().map("x"), "x");
    }
}
