//! `install.sh` repeats part of the preset table (its types, their default models, which need a
//! base URL or may go without a key) because a shell script cannot read Rust. This test reads the
//! script's tables and fails when they and the presets disagree.

use std::collections::BTreeMap;

use switchyard_shared::ProviderType;

fn installer() -> String {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../install.sh");
    std::fs::read_to_string(path).expect("install.sh next to the workspace's crates")
}

/// The text between `opening` and the `)` that closes it.
fn block<'a>(script: &'a str, opening: &str) -> &'a str {
    let start = script
        .find(opening)
        .unwrap_or_else(|| panic!("install.sh has no `{opening}`"))
        + opening.len();
    let length = script[start..]
        .find(')')
        .unwrap_or_else(|| panic!("`{opening}` is not closed"));
    &script[start..start + length]
}

/// The words of an array such as `TYPES=( … )`.
fn array(script: &str, name: &str) -> Vec<String> {
    block(script, &format!("\n{name}=("))
        .split_whitespace()
        .map(str::to_owned)
        .collect()
}

/// The entries of an associative array such as `declare -A NAME=([key]=value …)`; values may
/// be quoted and empty.
fn table(script: &str, name: &str) -> BTreeMap<String, String> {
    let body = block(script, &format!("declare -A {name}=("));
    let mut entries = BTreeMap::new();
    let mut rest = body.trim_start();
    while let Some(open) = rest.strip_prefix('[') {
        let (key, after) = open.split_once("]=").expect("[key]=value");
        let (value, after) = match after.strip_prefix('"') {
            Some(quoted) => quoted.split_once('"').expect("a closed quote"),
            None => after.split_once(char::is_whitespace).unwrap_or((after, "")),
        };
        assert!(
            entries.insert(key.to_owned(), value.to_owned()).is_none(),
            "{name}[{key}] is set twice"
        );
        rest = after.trim_start();
    }
    assert!(
        rest.is_empty(),
        "{name} has an entry the test cannot read: {rest}"
    );
    entries
}

fn names(kinds: impl Iterator<Item = ProviderType>) -> Vec<String> {
    kinds.map(|kind| kind.as_str().to_owned()).collect()
}

#[test]
fn the_installer_offers_every_type_in_the_consoles_order() {
    let script = installer();
    assert_eq!(
        array(&script, "TYPES"),
        names(ProviderType::ALL.into_iter())
    );
    for table_name in ["KEY_ENV", "DEFAULT_PREFIXES", "DEFAULT_MODEL"] {
        let keys: Vec<String> = table(&script, table_name).into_keys().collect();
        let mut all = names(ProviderType::ALL.into_iter());
        all.sort();
        assert_eq!(keys, all, "{table_name} has an entry per type");
    }
}

#[test]
fn the_installers_defaults_are_the_presets() {
    let script = installer();
    for (name, model) in table(&script, "DEFAULT_MODEL") {
        let kind = ProviderType::from_name(&name).expect("a known type");
        assert_eq!(
            model,
            kind.default_model().unwrap_or_default(),
            "DEFAULT_MODEL[{name}]"
        );
    }
    let needs_base_url: Vec<String> = table(&script, "NEEDS_BASE_URL").into_keys().collect();
    let without_default = names(
        ProviderType::ALL
            .into_iter()
            .filter(|kind| kind.default_base_url().is_none()),
    );
    let mut expected = without_default;
    expected.sort();
    assert_eq!(needs_base_url, expected, "NEEDS_BASE_URL");
    let key_optional: Vec<String> = table(&script, "KEY_OPTIONAL").into_keys().collect();
    let mut expected = names(
        ProviderType::ALL
            .into_iter()
            .filter(|kind| !kind.requires_key()),
    );
    expected.sort();
    assert_eq!(key_optional, expected, "KEY_OPTIONAL");
}

/// The installer's tests clear every `*_API_KEY` variable from the environment they run
/// `install.sh` in, so a developer's own keys never leak into a test installation; a key variable
/// named otherwise would slip through. Two types sharing a variable would also get one key.
#[test]
fn key_variables_are_distinct_api_key_names() {
    let variables = table(&installer(), "KEY_ENV");
    let mut seen = BTreeMap::new();
    for (kind, variable) in &variables {
        assert!(variable.ends_with("_API_KEY"), "KEY_ENV[{kind}]={variable}");
        if let Some(other) = seen.insert(variable, kind) {
            panic!("{other} and {kind} both read {variable}");
        }
    }
}
