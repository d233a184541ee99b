//! A consumer's keys on its page: the list (masked, with status, creation, expiry and last use), and
//! creating, editing (name, models, limits, budget), rotating, disabling, enabling and deleting keys. A new key's plaintext exists only
//! in the reveal dialog's state and is dropped when the dialog closes.

use leptos::prelude::*;
use leptos::task::spawn_local;
use switchyard_shared::{ConsumerKey, KeyUpdate};

use crate::api::{self, ApiError};
use crate::components::badge::Badge;
use crate::components::budget::budget_summary;
use crate::components::icons::Icon;
use crate::components::limits::limits_summary;
use crate::components::modal::ConfirmDialog;
use crate::components::page::{LoadError, Loading};
use crate::components::toast::{saved_text, use_toasts};
use crate::pages::key_dialogs::{CreateKeyDialog, RotateKeyDialog};
use crate::pages::key_edit::EditKeyDialog;
use crate::pages::key_reveal::{KeyRevealDialog, Revealed};
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

/// Which dialog is open.
#[derive(Clone)]
enum Dialog {
    Create,
    Edit(ConsumerKey),
    Rotate(ConsumerKey),
    Delete(ConsumerKey),
    Reveal(Revealed),
}

#[component]
pub fn ConsumerKeys(consumer: String, allowed_models: Vec<String>) -> impl IntoView {
    let toasts = use_toasts();
    let keys_path = format!("/api/consumers/{}/keys", api::segment(&consumer));
    let keys = RwSignal::new(None::<Result<Vec<ConsumerKey>, ApiError>>);
    let path = StoredValue::new(keys_path.clone());
    let load = move || {
        let path = path.get_value();
        spawn_local(async move {
            keys.try_set(Some(api::get::<Vec<ConsumerKey>>(&path).await));
        });
    };
    load();
    let dialog = RwSignal::new(None::<Dialog>);
    let busy = RwSignal::new(false);
    let error = RwSignal::new(None::<ApiError>);
    let consumer_models = StoredValue::new(allowed_models);

    let reveal = move |key: ConsumerKey, rotated: bool| {
        load();
        let Some(plaintext) = key.key else {
            dialog.set(None);
            toasts.error(
                "The gateway issued the key but did not send it; rotate it to get a new one.",
            );
            return;
        };
        dialog.set(Some(Dialog::Reveal(Revealed {
            name: key.name,
            key: plaintext,
            consumer_models: consumer_models.get_value(),
            key_models: key.allowed_models,
            rotated,
        })));
    };
    let toggle = move |key: ConsumerKey| {
        let Some(id) = key.id else { return };
        let body = KeyUpdate {
            disabled: Some(!key.disabled),
            ..KeyUpdate::default()
        };
        let item = format!("{}/{id}", path.get_value());
        spawn_local(async move {
            match api::put(&item, &body).await {
                Ok(reply) => {
                    let done = if key.disabled { "enabled" } else { "disabled" };
                    let saved = saved_text(reply.snapshot_version());
                    toasts.success(format!("Key {} {done}. {saved}", key.name));
                    load();
                }
                Err(e) => toasts.error(e.message),
            }
        });
    };
    let delete = move |()| {
        let Some(Dialog::Delete(key)) = dialog.get_untracked() else {
            return;
        };
        let Some(id) = key.id else { return };
        busy.set(true);
        error.set(None);
        let item = format!("{}/{id}", path.get_value());
        spawn_local(async move {
            match api::delete(&item).await {
                Ok(reply) => {
                    let saved = saved_text(reply.snapshot_version());
                    toasts.success(format!("Key {} deleted. {saved}", key.name));
                    dialog.set(None);
                    load();
                }
                Err(e) => error.set(Some(e)),
            }
            busy.set(false);
        });
    };
    let close = move |()| {
        dialog.set(None);
        error.set(None);
    };

    view! {
        <section class="card card-flush" data-testid="consumer-keys">
            <div class="card-head card-title-pad">
                <h2 class="card-title">"API keys"</h2>
                <button
                    type="button"
                    class="btn btn-primary btn-small"
                    data-testid="key-new"
                    on:click=move |_| dialog.set(Some(Dialog::Create))
                >
                    <Icon name="plus" size=14 />
                    "Create key"
                </button>
            </div>
            <p class="hint">
                "Apps send a key as Authorization: Bearer, x-api-key or api-key. A key is shown in full only when it is created."
            </p>
            {move || match keys.get() {
                None => view! { <Loading /> }.into_any(),
                Some(Err(e)) => view! { <LoadError message=e.message on_retry=move |()| load() /> }.into_any(),
                Some(Ok(list)) if list.is_empty() => {
                    view! { <p class="empty">"No keys yet. Create one for each app or place the consumer calls from."</p> }
                        .into_any()
                }
                Some(Ok(list)) => view! {
                    <KeyTable
                        keys=list
                        on_edit=move |k| dialog.set(Some(Dialog::Edit(k)))
                        on_rotate=move |k| dialog.set(Some(Dialog::Rotate(k)))
                        on_toggle=toggle
                        on_delete=move |k| dialog.set(Some(Dialog::Delete(k)))
                    />
                }
                .into_any(),
            }}
        </section>
        {move || match dialog.get() {
            None => ().into_any(),
            Some(Dialog::Create) => view! {
                <CreateKeyDialog
                    keys_path=path.get_value()
                    on_created=move |key| reveal(key, false)
                    on_close=close
                />
            }
            .into_any(),
            Some(Dialog::Edit(key)) => view! {
                <EditKeyDialog
                    key_path=format!("{}/{}", path.get_value(), key.id.unwrap_or_default())
                    key=key.clone()
                    on_saved=move |version| {
                        toasts.success(format!("Key {} saved. {}", key.name, saved_text(version)));
                        dialog.set(None);
                        load();
                    }
                    on_close=close
                />
            }
            .into_any(),
            Some(Dialog::Rotate(key)) => view! {
                <RotateKeyDialog
                    rotate_path=format!("{}/{}/rotate", path.get_value(), key.id.unwrap_or_default())
                    label=key_label(&key)
                    on_rotated=move |key| reveal(key, true)
                    on_close=close
                />
            }
            .into_any(),
            Some(Dialog::Delete(key)) => view! {
                <ConfirmDialog
                    title=format!("Delete key {}?", key_label(&key))
                    message="Apps using this key are refused from their next request on. This cannot be undone."
                    confirm_label="Delete"
                    busy=busy
                    error=error
                    on_confirm=delete
                    on_close=close
                />
            }
            .into_any(),
            Some(Dialog::Reveal(revealed)) => view! { <KeyRevealDialog revealed=revealed on_close=close /> }
                .into_any(),
        }}
    }
}

/// `ci (sy-…k3Qz)`.
fn key_label(key: &ConsumerKey) -> String {
    match &key.masked {
        Some(masked) => format!("{} ({masked})", key.name),
        None => key.name.clone(),
    }
}

#[component]
fn KeyTable(
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
