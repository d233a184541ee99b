//! Dialogs: a modal frame that takes focus, closes on Escape and on the backdrop, and gives focus
//! back when it closes; and the delete confirmation built on it.

use leptos::html;
use leptos::prelude::*;
use wasm_bindgen::JsCast;

use crate::api::ApiError;
use crate::components::icons::Icon;
use crate::util::next_id;

/// A modal dialog. The parent decides when it exists; `on_close` asks the parent to remove it.
/// A dialog that is not `dismissable` (one showing a secret for the only time) ignores Escape
/// and clicks beside it, and closes only by its own buttons.
#[component]
pub fn Modal(
    #[prop(into)] title: String,
    #[prop(into)] on_close: Callback<()>,
    children: Children,
    #[prop(optional)] wide: bool,
    #[prop(default = true)] dismissable: bool,
) -> impl IntoView {
    let title_id = format!("dialog-title-{}", next_id());
    let labelled_by = title_id.clone();
    let frame = NodeRef::<html::Div>::new();
    // Focus returns to the control that opened the dialog, so keyboard users keep their place.
    let opener = StoredValue::new_local(
        document()
            .active_element()
            .and_then(|e| e.dyn_into::<web_sys::HtmlElement>().ok()),
    );
    on_cleanup(move || {
        if let Some(Some(opener)) = opener.try_get_value() {
            let _ = opener.focus();
        }
    });
    // Escape is heard on the window, because focus may have left the dialog (a button that
    // became disabled while working drops it to the page body).
    let escape = window_event_listener(leptos::ev::keydown, move |ev| {
        if dismissable && ev.key() == "Escape" {
            on_close.run(());
        }
    });
    let escape = StoredValue::new_local(Some(escape));
    on_cleanup(move || {
        if let Some(Some(handle)) = escape.try_update_value(Option::take) {
            handle.remove();
        }
    });
    Effect::new(move |_| {
        if let Some(frame) = frame.get() {
            let target = frame
                .query_selector("[data-autofocus], input, textarea, select, .modal-body button")
                .ok()
                .flatten()
                .and_then(|e| e.dyn_into::<web_sys::HtmlElement>().ok());
            match target {
                Some(target) => {
                    let _ = target.focus();
                }
                None => {
                    let _ = frame.focus();
                }
            }
        }
    });
    let class = if wide { "modal modal-wide" } else { "modal" };
    view! {
        <div
            class="modal-backdrop"
            on:click=move |_| {
                if dismissable {
                    on_close.run(());
                }
            }
        ></div>
        <div
            class=class
            role="dialog"
            aria-modal="true"
            aria-labelledby=labelled_by
            tabindex="-1"
            node_ref=frame
        >
            <div class="modal-header">
                <h2 id=title_id>{title}</h2>
                <button
                    type="button"
                    class="icon-btn"
                    aria-label="Close dialog"
                    on:click=move |_| on_close.run(())
                >
                    <Icon name="close" />
                </button>
            </div>
            <div class="modal-body">{children()}</div>
        </div>
    }
}

/// "Delete X?" with Cancel and a red confirm button (`data-testid="confirm-dialog-ok"`). A
/// failure stays in the dialog; a conflict lists the routes that still use the item as links.
#[component]
pub fn ConfirmDialog(
    #[prop(into)] title: String,
    #[prop(into)] message: String,
    #[prop(into)] confirm_label: String,
    #[prop(into)] busy: Signal<bool>,
    #[prop(into)] error: Signal<Option<ApiError>>,
    #[prop(into)] on_confirm: Callback<()>,
    #[prop(into)] on_close: Callback<()>,
) -> impl IntoView {
    view! {
        <Modal title=title on_close=on_close>
            <p>{message}</p>
            {move || error.get().map(|error| view! { <ErrorDetails error=error /> })}
            <div class="modal-actions">
                <button type="button" class="btn" on:click=move |_| on_close.run(())>
                    "Cancel"
                </button>
                <button
                    type="button"
                    class="btn btn-danger"
                    data-testid="confirm-dialog-ok"
                    data-autofocus="true"
                    disabled=move || busy.get()
                    on:click=move |_| on_confirm.run(())
                >
                    {move || if busy.get() { "Working…".to_owned() } else { confirm_label.clone() }}
                </button>
            </div>
        </Modal>
    }
}

/// An API error as an alert, with the routes of a conflict as links.
#[component]
pub fn ErrorDetails(error: ApiError) -> impl IntoView {
    let routes = error.routes.clone();
    view! {
        <div class="alert alert-error" role="alert" data-testid="error-details">
            <p>{error.message.clone()}</p>
            {(!routes.is_empty())
                .then(|| {
                    view! {
                        <p class="conflict-routes">
                            <strong>"Used by routes: "</strong>
                            {routes
                                .into_iter()
                                .map(|route| {
                                    view! {
                                        <a class="chip chip-link" href=format!("/routes/{route}")>
                                            {route.clone()}
                                        </a>
                                    }
                                })
                                .collect_view()}
                        </p>
                        <p class="hint">
                            "Take it out of those routes (or delete the routes) first."
                        </p>
                    }
                })}
        </div>
    }
}
