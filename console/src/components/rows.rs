//! Editable lists inside forms: key → value rows (model mapping, headers, deployments) and tag
//! lists (models). Each row's error shows under it, found by the path the server would report.

use leptos::prelude::*;

use crate::components::field::{FieldErr, invalid_attr, use_form_errors};
use crate::components::icons::Icon;
use crate::util::next_id;

/// One editable `left → right` row; the signals live as long as the form.
#[derive(Clone, Copy)]
pub struct PairRow {
    pub id: u64,
    pub left: RwSignal<String>,
    pub right: RwSignal<String>,
}

impl PairRow {
    pub fn new(left: impl Into<String>, right: impl Into<String>) -> Self {
        PairRow {
            id: next_id(),
            left: RwSignal::new(left.into()),
            right: RwSignal::new(right.into()),
        }
    }

    /// Rows for a map, in its order.
    pub fn from_map<'a>(map: impl IntoIterator<Item = (&'a String, &'a String)>) -> Vec<PairRow> {
        map.into_iter().map(|(k, v)| PairRow::new(k, v)).collect()
    }
}

/// The rows as a map, leaving out rows whose key is empty.
pub fn rows_to_map(rows: &[PairRow]) -> std::collections::BTreeMap<String, String> {
    rows.iter()
        .filter_map(|row| {
            let key = row.left.get_untracked().trim().to_owned();
            (!key.is_empty()).then(|| (key, row.right.get_untracked().trim().to_owned()))
        })
        .collect()
}

/// Rows of `key → value` for a map field; errors are reported as `<prefix>.<key>`.
#[component]
pub fn PairRows(
    rows: RwSignal<Vec<PairRow>>,
    /// The map's field path, such as `model_mapping`.
    prefix: &'static str,
    left_label: &'static str,
    right_label: &'static str,
    #[prop(optional)] left_placeholder: &'static str,
    #[prop(optional)] right_placeholder: &'static str,
    add_label: &'static str,
) -> impl IntoView {
    let form = use_form_errors();
    view! {
        <div class="pair-rows">
            {move || {
                let list = rows.get();
                (!list.is_empty())
                    .then(|| {
                        view! {
                            <div class="pair-head" aria-hidden="true">
                                <span>{left_label}</span>
                                <span></span>
                                <span>{right_label}</span>
                            </div>
                        }
                    })
            }}
            {move || {
                rows.get()
                    .into_iter()
                    .enumerate()
                    .map(|(i, row)| {
                        let n = i + 1;
                        let path = move || format!("{prefix}.{}", row.left.get().trim());
                        view! {
                            <div class="pair-row">
                                <input
                                    class="input mono"
                                    aria-label=format!("{left_label}, row {n}")
                                    data-testid=format!("{prefix}-key-{i}")
                                    placeholder=left_placeholder
                                    aria-invalid=invalid_attr(form, path)
                                    prop:value=move || row.left.get()
                                    on:input=move |ev| row.left.set(event_target_value(&ev))
                                />
                                <span class="pair-arrow" aria-hidden="true">
                                    "→"
                                </span>
                                <input
                                    class="input mono"
                                    aria-label=format!("{right_label}, row {n}")
                                    data-testid=format!("{prefix}-value-{i}")
                                    placeholder=right_placeholder
                                    prop:value=move || row.right.get()
                                    on:input=move |ev| row.right.set(event_target_value(&ev))
                                />
                                <RemoveRowButton
                                    label=format!("Remove row {n}")
                                    on_remove=move |()| rows.update(|l| l.retain(|r| r.id != row.id))
                                />
                                <div class="pair-error">
                                    <FieldErr path=Signal::derive(path) />
                                </div>
                            </div>
                        }
                    })
                    .collect_view()
            }}
            <AddRowButton
                testid=format!("{prefix}-add")
                label=add_label
                on_add=move |()| rows.update(|list| list.push(PairRow::new("", "")))
            />
            <FieldErr path=prefix.to_owned() />
        </div>
    }
}

/// Splits typed text into tags: commas, spaces and new lines separate them.
pub fn split_tags(text: &str) -> Vec<String> {
    text.split([',', ' ', '\n', '\t'])
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Adds the tags typed in `draft` to `tags`, skipping ones already there, and empties the draft.
pub fn commit_draft(tags: RwSignal<Vec<String>>, draft: RwSignal<String>) {
    let typed = split_tags(&draft.get_untracked());
    if typed.is_empty() {
        return;
    }
    tags.update(|list| {
        for tag in typed {
            if !list.contains(&tag) {
                list.push(tag);
            }
        }
    });
    draft.set(String::new());
}

/// A list of tags with an input that adds more (Enter or the Add button) and a remove button on
/// each; errors are reported as `<prefix>[i]`. Test ids are `<testid>-input` and `<testid>-add`,
/// with the prefix as the test id unless one is given.
#[component]
pub fn TagList(
    tags: RwSignal<Vec<String>>,
    draft: RwSignal<String>,
    prefix: &'static str,
    #[prop(into)] label: String,
    #[prop(into)] id: String,
    #[prop(optional)] placeholder: &'static str,
    #[prop(optional, into)] hint: MaybeProp<String>,
    #[prop(optional, into)] testid: Option<String>,
) -> impl IntoView {
    let add = move || commit_draft(tags, draft);
    let testid = testid.unwrap_or_else(|| prefix.to_owned());
    view! {
        <div class="field">
            <label for=id.clone()>{label}</label>
            <ul class="tags" aria-label="Added">
                {move || {
                    tags.get()
                        .into_iter()
                        .enumerate()
                        .map(|(i, tag)| {
                            let remove_label = format!("Remove {tag}");
                            view! {
                                <li class="tag">
                                    <span class="mono">{tag}</span>
                                    <button
                                        type="button"
                                        class="tag-remove"
                                        aria-label=remove_label
                                        on:click=move |_| {
                                            tags.update(|list| {
                                                if i < list.len() {
                                                    list.remove(i);
                                                }
                                            })
                                        }
                                    >
                                        "×"
                                    </button>
                                </li>
                            }
                        })
                        .collect_view()
                }}
            </ul>
            <div class="inline-add">
                <input
                    id=id
                    class="input mono"
                    data-testid=format!("{testid}-input")
                    placeholder=placeholder
                    prop:value=move || draft.get()
                    on:input=move |ev| draft.set(event_target_value(&ev))
                    on:keydown=move |ev| {
                        // Enter adds a tag instead of submitting the whole form.
                        if ev.key() == "Enter" {
                            ev.prevent_default();
                            add();
                        }
                    }
                />
                <button
                    type="button"
                    class="btn btn-small"
                    data-testid=format!("{testid}-add")
                    on:click=move |_| add()
                >
                    "Add"
                </button>
            </div>
            {move || hint.get().map(|hint| view! { <p class="hint">{hint}</p> })}
            {move || {
                (0..tags.with(Vec::len))
                    .map(|i| view! { <FieldErr path=format!("{prefix}[{i}]") /> })
                    .collect_view()
            }}
            <FieldErr path=prefix.to_owned() />
        </div>
    }
}

/// The dashed "+ Add …" button under a list of rows.
#[component]
pub fn AddRowButton(
    #[prop(into)] testid: String,
    #[prop(into)] label: String,
    #[prop(into)] on_add: Callback<()>,
) -> impl IntoView {
    view! {
        <button
            type="button"
            class="btn btn-small btn-dashed"
            data-testid=testid
            on:click=move |_| on_add.run(())
        >
            <Icon name="plus" size=14 />
            {label}
        </button>
    }
}

/// The × button at the end of a row; `label` names the row, since the icon alone says nothing
/// to a screen reader.
#[component]
pub fn RemoveRowButton(
    #[prop(into)] label: String,
    #[prop(into)] on_remove: Callback<()>,
) -> impl IntoView {
    view! {
        <button type="button" class="icon-btn" aria-label=label on:click=move |_| on_remove.run(())>
            <Icon name="close" size=16 />
        </button>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_tags() {
        assert_eq!(split_tags(" a, b\nc  "), vec!["a", "b", "c"]);
        assert!(split_tags(" , ").is_empty());
    }
}
