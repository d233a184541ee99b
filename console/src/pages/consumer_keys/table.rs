//! The table of a consumer's keys: name and creation, the masked key, its state (with the expiry),
//! last use, what the key itself may use and spend, and its row actions.

use leptos::prelude::*;
use switchyard_shared::ConsumerKey;

use crate::components::badge::Badge;
use crate::components::budget::budget_summary;
use crate::components::icons::Icon;
use crate::components::limits::limits_summary;
use crate::util::fmt_timestamp;

/// A key's state as a badge: `(text, tone)`. Times are Unix milliseconds.
pub fn key_state(
    disabled: bool,
    expires_ms: Option<f64>,
    now_ms: f64,
) -> (&'static str, &'static str) {
    match expires_ms {
        _ if disabled => ("disabled", "bad"),
        Some(at) if at <= now_ms => ("expired", "bad"),
        Some(_) => ("expires", "warn"),
        None => ("active", "ok"),
    }
}

#[component]
pub fn KeyTable(
    keys: Vec<ConsumerKey>,
    #[prop(into)] on_edit: Callback<ConsumerKey>,
    #[prop(into)] on_rotate: Callback<ConsumerKey>,
    #[prop(into)] on_toggle: Callback<ConsumerKey>,
    #[prop(into)] on_delete: Callback<ConsumerKey>,
) -> impl IntoView {
    let now = js_sys::Date::now();
    let rows = keys
        .into_iter()
        .map(|key| {
            let id = key.id.unwrap_or_default();
            let expires_ms = key
                .expires_at
                .as_deref()
                .map(js_sys::Date::parse)
                .filter(|ms| !ms.is_nan());
            let (state, tone) = key_state(key.disabled, expires_ms, now);
            let when = |at: &Option<String>, none: &'static str| match at {
                Some(at) => {
                    view! { <span class="small nowrap">{fmt_timestamp(at)}</span> }.into_any()
                }
                None => view! { <span class="muted small">{none}</span> }.into_any(),
            };
            let mut scope = limits_summary(&key.limits);
            if let Some(budget) = &key.budget {
                let budget = format!("budget {}", budget_summary(budget));
                scope = if scope.is_empty() {
                    budget
                } else {
                    format!("{scope} · {budget}")
                };
            }
            if !key.allowed_models.is_empty() {
                let models = key.allowed_models.join(", ");
                scope = if scope.is_empty() {
                    models
                } else {
                    format!("{models} · {scope}")
                };
            }
            let (edit, rotate, toggle, delete) = (key.clone(), key.clone(), key.clone(), key.clone());
            let toggle_label = if key.disabled { "Enable" } else { "Disable" };
            view! {
                <tr data-testid=format!("key-row-{id}") data-key-name=key.name.clone()>
                    <th scope="row">
                        {key.name.clone()}
                        {key.created_at.as_ref().map(|at| {
                            view! { <div class="muted small nowrap cell-sub">{format!("created {}", fmt_timestamp(at))}</div> }
                        })}
                    </th>
                    <td data-label="Key">
                        <code class="mono nowrap" data-testid=format!("key-masked-{id}")>
                            {key.masked.clone().unwrap_or_default()}
                        </code>
                    </td>
                    <td data-label="Status">
                        <Badge text=state tone=tone />
                        {(state == "expires").then(|| view! { " " {when(&key.expires_at, "")} })}
                    </td>
                    <td data-label="Last used">{when(&key.last_used_at, "never")}</td>
                    <td data-label="Scope" class="small">
                        {if scope.is_empty() { "the consumer's".to_owned() } else { scope }}
                    </td>
                    <td class="actions-col">
                        <div class="row-actions">
                            <button
                                type="button"
                                class="btn btn-small"
                                data-testid=format!("key-edit-{id}")
                                on:click=move |_| on_edit.run(edit.clone())
                            >
                                <Icon name="edit" size=14 />
                                "Edit"
                            </button>
                            <button
                                type="button"
                                class="btn btn-small"
                                data-testid=format!("key-rotate-{id}")
                                on:click=move |_| on_rotate.run(rotate.clone())
                            >
                                <Icon name="refresh" size=14 />
                                "Rotate"
                            </button>
                            <button
                                type="button"
                                class="btn btn-small"
                                data-testid=format!("key-toggle-{id}")
                                on:click=move |_| on_toggle.run(toggle.clone())
                            >
                                {toggle_label}
                            </button>
                            <button
                                type="button"
                                class="btn btn-small btn-danger-ghost"
                                data-testid=format!("key-delete-{id}")
                                on:click=move |_| on_delete.run(delete.clone())
                            >
                                <Icon name="trash" size=14 />
                                "Delete"
                            </button>
                        </div>
                    </td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <div class="table-wrap">
            <table class="table table-cards">
                <thead>
                    <tr>
                        <th scope="col">"Name"</th>
                        <th scope="col">"Key"</th>
                        <th scope="col">"Status"</th>
                        <th scope="col">"Last used"</th>
                        <th scope="col" title="Models, limits and budget of the key itself">
                            "Scope"
                        </th>
                        <th scope="col" class="actions-col">
                            <span class="sr-only">"Actions"</span>
                        </th>
                    </tr>
                </thead>
                <tbody>{rows}</tbody>
            </table>
        </div>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_states() {
        assert_eq!(key_state(false, None, 10.0), ("active", "ok"));
        assert_eq!(key_state(true, None, 10.0), ("disabled", "bad"));
        assert_eq!(key_state(false, Some(5.0), 10.0), ("expired", "bad"));
        assert_eq!(key_state(false, Some(50.0), 10.0), ("expires", "warn"));
        assert_eq!(key_state(true, Some(5.0), 10.0), ("disabled", "bad"));
    }
}
