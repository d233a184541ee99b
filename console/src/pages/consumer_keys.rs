//! A consumer's keys on its page: the list (masked, with status, creation, expiry and last use),
//! and creating, editing (name, models, limits, budget), rotating, disabling, enabling and deleting
//! keys. A new key's plaintext exists only in the reveal dialog's state and is dropped when the
//! dialog closes.

use leptos::prelude::*;
use leptos::task::spawn_local;
use switchyard_shared::{ConsumerKey, KeyUpdate};

use crate::api::{self, ApiError};
use crate::components::icons::Icon;
use crate::components::modal::ConfirmDialog;
use crate::components::page::{LoadError, Loading};
use crate::components::toast::{saved_text, use_toasts};
use crate::pages::key_dialogs::{CreateKeyDialog, RotateKeyDialog};
use crate::pages::key_edit::EditKeyDialog;
use crate::pages::key_reveal::{KeyRevealDialog, Revealed};

mod table;

use table::KeyTable;

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
