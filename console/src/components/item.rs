//! What the pages of every named resource share about one item: the edit page's loader, which
//! fetches the item before its form can show, and the delete confirmation.

use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::hooks::use_params_map;

use crate::api::{self, ApiError};
use crate::components::modal::ConfirmDialog;
use crate::components::page::{LoadError, Loading, PageHeader};
use crate::components::toast::{saved_text, use_toasts};
use crate::resource::{Resource, capitalized};

/// An edit page: loads the item named by the path's `:name` and hands it to `form`. A change of
/// name in the path (from one item's page to another's) loads afresh.
#[component]
pub fn EditPage<T: Resource>(form: Callback<T, AnyView>) -> impl IntoView {
    let params = use_params_map();
    move || {
        let name = params.with(|p| p.get("name")).unwrap_or_default();
        view! { <LoadItem name=name form=form /> }
    }
}

/// Shows a spinner while the item loads, the form once it has, and otherwise the failure with a
/// retry and a link back to the list.
#[component]
fn LoadItem<T: Resource>(name: String, form: Callback<T, AnyView>) -> impl IntoView {
    let loaded = RwSignal::new(None::<Result<T, ApiError>>);
    let path = T::api_path(&name);
    let load = move || {
        let path = path.clone();
        spawn_local(async move { loaded.set(Some(api::get::<T>(&path).await)) });
    };
    load();
    move || match loaded.get() {
        None => view! { <Loading /> }.into_any(),
        Some(Err(error)) => {
            let message = if error.status == 404 {
                format!("There is no {} named {name}.", T::NOUN)
            } else {
                error.message
            };
            let load = load.clone();
            view! {
                <PageHeader title=format!("Edit {}", T::NOUN) />
                <LoadError message=message on_retry=move |()| load() />
                <a href=T::PAGE>{format!("Back to the {}s", T::NOUN)}</a>
            }
            .into_any()
        }
        Some(Ok(item)) => form.run(item),
    }
}

/// A delete confirmation, open while `target` names an item. Confirming deletes
/// `{api_prefix}/{name}`, says so in a toast and calls `on_deleted` so the list reloads; a
/// failure stays in the dialog so the operator can read why (such as the routes still using it).
#[component]
pub fn DeleteItem(
    target: RwSignal<Option<String>>,
    api_prefix: &'static str,
    noun: &'static str,
    /// What deleting the named item does, for the dialog's body.
    message: fn(&str) -> String,
    #[prop(into)] on_deleted: Callback<()>,
) -> impl IntoView {
    let toasts = use_toasts();
    let busy = RwSignal::new(false);
    let error = RwSignal::new(None::<ApiError>);
    let close = move |()| {
        target.set(None);
        error.set(None);
    };
    let confirm = move |()| {
        let Some(name) = target.get_untracked() else {
            return;
        };
        busy.set(true);
        error.set(None);
        spawn_local(async move {
            match api::delete(&format!("{api_prefix}/{}", api::segment(&name))).await {
                Ok(reply) => {
                    let saved = saved_text(reply.snapshot_version());
                    toasts.success(format!("{} {name} deleted. {saved}", capitalized(noun)));
                    target.set(None);
                    on_deleted.run(());
                }
                Err(e) => error.set(Some(e)),
            }
            busy.set(false);
        });
    };
    move || {
        target.get().map(|name| {
            view! {
                <ConfirmDialog
                    title=format!("Delete {noun} {name}?")
                    message=message(&name)
                    confirm_label="Delete"
                    busy=busy
                    error=error
                    on_confirm=confirm
                    on_close=close
                />
            }
        })
    }
}
