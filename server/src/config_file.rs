//! `switchyard config export|apply`: the configuration as a YAML or JSON document, for backups,
//! reviews in version control, and installers. Both go through the store, never raw SQL.

use std::io::Read;
use std::path::Path;

use anyhow::Context;
use switchyard_shared::{ConfigDocument, ValidationErrors};

use crate::store::{Store, StoreError};

/// The whole configuration as YAML (keys masked unless `with_secrets`).
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
        .map_err(|e| anyhow::anyhow!("{e}"))
        .with_context(|| format!("{} is not a valid config document", file.display()))
}

/// Parses a document: JSON when it starts with `{`, else YAML. The error names the field.
pub fn parse_document(text: &str) -> Result<ConfigDocument, ValidationErrors> {
    let result = if text.trim_start().starts_with('{') {
        let mut deserializer = serde_json::Deserializer::from_str(text);
        serde_path_to_error::deserialize(&mut deserializer)
            .map_err(|e| (e.path().to_string(), e.into_inner().to_string()))
    } else {
        serde_path_to_error::deserialize(serde_norway::Deserializer::from_str(text))
            .map_err(|e| (e.path().to_string(), e.into_inner().to_string()))
    };
    result.map_err(|(path, message)| {
        let field = if path == "." { String::new() } else { path };
        ValidationErrors::single(field, message)
    })
}

/// Applies a document and describes what changed; invalid documents change nothing.
pub async fn apply(store: &Store, doc: ConfigDocument, prune: bool) -> anyhow::Result<String> {
    // Valid but probably not meant: said after the summary, without failing the apply.
    let warnings: String =
        switchyard_shared::validate::config_warnings(&doc.providers, &doc.routes)
            .iter()
            .map(|w| format!("\nwarning: {}: {}", w.field, w.message))
            .collect();
    match store.apply(&crate::store::Origin::cli(), doc, prune).await {
        Ok(s) => Ok(format!(
            "applied: providers {} created, {} updated, {} unchanged, {} deleted; routes {} created, {} updated, {} unchanged, {} deleted; consumers {} created, {} updated, {} unchanged, {} deleted; guardrails {} created, {} updated, {} unchanged, {} deleted{}",
            s.providers_created,
            s.providers_updated,
            s.providers_unchanged,
            s.providers_deleted,
            s.routes_created,
            s.routes_updated,
            s.routes_unchanged,
            s.routes_deleted,
            s.consumers_created,
            s.consumers_updated,
            s.consumers_unchanged,
            s.consumers_deleted,
            s.guardrails_created,
            s.guardrails_updated,
            s.guardrails_unchanged,
            s.guardrails_deleted,
            if s.settings_changed {
                "; settings changed"
            } else {
                ""
            }
        ) + &warnings),
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
        assert_eq!(err.0[0].field, "routes[0].upstreams[0].weight", "{err}");
    }
}
