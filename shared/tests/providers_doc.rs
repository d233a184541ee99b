//! `docs/providers.md`'s tables are the preset table written out: this test renders them from
//! `ProviderType::preset()` and fails when the file says something else. `UPDATE_DOCS=1` rewrites
//! the tables (the prose around them is kept).

use switchyard_shared::{AuthStyle, Group, ProviderType, ReasoningField};

const PATH: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/providers.md");
const BEGIN: &str = "<!-- tables: generated from the presets by shared/tests/providers_doc.rs -->";
const END: &str = "<!-- end of the generated tables -->";

fn key_header(auth: AuthStyle, requires_key: bool) -> String {
    let header = match auth {
        AuthStyle::Bearer => "`Authorization: Bearer`".to_owned(),
        AuthStyle::Header(name) => format!("`{name}`"),
        AuthStyle::AwsSigV4 => "SigV4 signature (`Authorization`)".to_owned(),
        AuthStyle::GoogleServiceAccount => "service account → `Authorization: Bearer`".to_owned(),
    };
    if requires_key {
        header
    } else {
        format!("{header} (optional)")
    }
}

fn tables() -> String {
    let mut out = String::new();
    for group in Group::ALL {
        out.push_str(&format!("\n## {}\n\n", group.label()));
        out.push_str("| type | service | protocol | base URL | key header | default model | endpoints | reasoning |\n");
        out.push_str("| --- | --- | --- | --- | --- | --- | --- | --- |\n");
        for kind in ProviderType::ALL.into_iter().filter(|k| k.group() == group) {
            let preset = kind.preset();
            let base = match (preset.default_base_url, preset.base_url_template) {
                (Some(url), _) => format!("`{url}`"),
                (None, Some(template)) => format!("required: `{template}`"),
                (None, None) => "required".to_owned(),
            };
            let reasoning = match preset.capabilities.reasoning {
                ReasoningField::None => "—".to_owned(),
                ReasoningField::ReasoningContent => "`reasoning_content`".to_owned(),
                ReasoningField::Reasoning => "`reasoning`".to_owned(),
                ReasoningField::ThinkTags => "`<think>` tags".to_owned(),
            };
            out.push_str(&format!(
                "| `{}` | {} | {:?} | {} | {} | {} | {} | {} |\n",
                kind.as_str(),
                preset.label,
                preset.protocol,
                base,
                key_header(preset.auth, preset.requires_key),
                preset
                    .default_model
                    .map_or("—".to_owned(), |m| format!("`{m}`")),
                preset.capabilities.summary(),
                reasoning,
            ));
        }
    }
    out
}

#[test]
fn the_provider_doc_is_the_preset_table() {
    let doc = std::fs::read_to_string(PATH).expect("docs/providers.md");
    let (head, rest) = doc.split_once(BEGIN).expect("the begin marker");
    let (_, tail) = rest.split_once(END).expect("the end marker");
    let expected = format!("{head}{BEGIN}\n{}\n{END}{tail}", tables());
    if std::env::var_os("UPDATE_DOCS").is_some() {
        std::fs::write(PATH, &expected).expect("writes docs/providers.md");
        return;
    }
    assert!(
        doc == expected,
        "docs/providers.md differs from the presets; run UPDATE_DOCS=1 cargo test -p switchyard-shared --test providers_doc"
    );
}
