//! `switchyard config export|apply`: the configuration as a YAML or JSON document, for backups,
//! reviews in version control, and installers. Both go through the store, never raw SQL.

use std::io::Read;
use std::path::Path;

use anyhow::Context;
use switchyard_shared::ConfigDocument;

use crate::store::{Store, StoreError};

/// Prints the whole configuration as YAML.
pub async fn export(store: &Store, with_secrets: bool) -> anyhow::Result<String> {
    let mut doc = store.export().await?;
    if !with_secrets {
        doc.providers = doc.providers.iter().map(|p| p.masked()).collect();
    }
    Ok(serde_norway::to_string(&doc)?)
}

/// Reads a document from `file` (`-` for standard input): JSON when it looks like JSON, else YAML.
pub fn read_document(file: &Path) -> anyhow::Result<ConfigDocument> {
    let text = if file.as_os_str() == "-" {
        let mut text = String::new();
        std::io::stdin().read_to_string(&mut text)?;
        text
    } else {
        std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))?
    };
    parse_document(&text)
        .with_context(|| format!("{} is not a valid config document", file.display()))
}

fn parse_document(text: &str) -> anyhow::Result<ConfigDocument> {
    if text.trim_start().starts_with('{') {
        let mut deserializer = serde_json::Deserializer::from_str(text);
        let doc = serde_path_to_error::deserialize(&mut deserializer)
            .map_err(|e| anyhow::anyhow!("at {}: {}", e.path(), e.inner()))?;
        Ok(doc)
    } else {
        let doc = serde_path_to_error::deserialize(serde_norway::Deserializer::from_str(text))
            .map_err(|e| anyhow::anyhow!("at {}: {}", e.path(), e.inner()))?;
        Ok(doc)
    }
}

/// Applies a document and describes what changed; invalid documents change nothing.
pub async fn apply(store: &Store, doc: ConfigDocument, prune: bool) -> anyhow::Result<String> {
    match store.apply(doc, prune).await {
        Ok(s) => Ok(format!(
            "applied: providers {} created, {} updated, {} deleted; routes {} created, {} updated, {} deleted",
            s.providers_created,
            s.providers_updated,
            s.providers_deleted,
            s.routes_created,
            s.routes_updated,
            s.routes_deleted
        )),
        Err(StoreError::Invalid(errors)) => {
            let lines: Vec<String> = errors
                .0
                .iter()
                .map(|e| format!("  {}: {}", e.field, e.message))
                .collect();
            anyhow::bail!(
                "the document is invalid; nothing was changed:\n{}",
                lines.join("\n")
            )
        }
        Err(other) => Err(other.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_yaml_and_json() {
        let yaml = "providers:\n- name: ds\n  type: deepseek\n  api_keys: [sk-1]\nroutes:\n- name: r\n  match: [{type: prefix, value: deepseek-}]\n  upstreams: [{provider: ds}]\n";
        let doc = parse_document(yaml).expect("yaml parses");
        assert_eq!(doc.routes[0].upstreams[0].weight, 100);
        let json = r#"{"providers":[],"routes":[]}"#;
        assert_eq!(
            parse_document(json).expect("json parses"),
            ConfigDocument::default()
        );
        let err = parse_document(
            "routes:\n- name: r\n  match: []\n  upstreams: [{provider: x, weight: many}]\n",
        )
        .expect_err("bad weight");
        assert!(
            err.to_string().contains("routes[0].upstreams[0].weight"),
            "{err}"
        );
    }
}
