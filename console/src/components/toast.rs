//! Toasts: short notices in a corner ("Saved — live on the gateway (snapshot v7)") that go away
//! by themselves, so that a save confirms itself without blocking the next action.

use std::time::Duration;

use leptos::prelude::*;

use crate::util::next_id;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ToastKind {
    Success,
    Error,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Toast {
    id: u64,
    kind: ToastKind,
    text: String,
}

/// The list of visible toasts, shared through context.
#[derive(Clone, Copy)]
pub struct Toasts {
    list: RwSignal<Vec<Toast>>,
}

impl Toasts {
    pub fn new() -> Self {
        Toasts {
            list: RwSignal::new(Vec::new()),
        }
    }

    pub fn push(&self, kind: ToastKind, text: impl Into<String>) {
        let id = next_id();
        self.list.update(|list| {
            list.push(Toast {
                id,
                kind,
                text: text.into(),
            })
        });
        // Errors stay longer: they usually need reading, while a success only needs noticing.
        let stay = match kind {
            ToastKind::Error => Duration::from_secs(9),
            _ => Duration::from_secs(5),
        };
        let list = self.list;
        set_timeout(
            move || {
                list.try_update(|list| list.retain(|t| t.id != id));
            },
            stay,
        );
    }

    pub fn success(&self, text: impl Into<String>) {
        self.push(ToastKind::Success, text);
    }

    pub fn error(&self, text: impl Into<String>) {
        self.push(ToastKind::Error, text);
    }

    /// The one message every successful configuration write shows.
    pub fn saved(&self, snapshot_version: Option<u64>) {
        self.success(saved_text(snapshot_version));
    }

    fn dismiss(&self, id: u64) {
        self.list.update(|list| list.retain(|t| t.id != id));
    }
}

/// "Saved — live on the gateway (snapshot vN)".
pub fn saved_text(snapshot_version: Option<u64>) -> String {
    match snapshot_version {
        Some(version) => format!("Saved — live on the gateway (snapshot v{version})"),
        None => "Saved — live on the gateway".to_owned(),
    }
}

pub fn use_toasts() -> Toasts {
    expect_context::<Toasts>()
}

/// Where the toasts appear; a polite live region so that screen readers announce them.
#[component]
pub fn ToastHost() -> impl IntoView {
    let toasts = use_toasts();
    view! {
        <div class="toasts" aria-live="polite" aria-relevant="additions">
            <For
                each=move || toasts.list.get()
                key=|toast| toast.id
                children=move |toast| {
                    let id = toast.id;
                    let class = match toast.kind {
                        ToastKind::Success => "toast toast-success",
                        ToastKind::Error => "toast toast-error",
                    };
                    let role = if toast.kind == ToastKind::Error { "alert" } else { "status" };
                    view! {
                        <div class=class role=role data-testid="toast">
                            <span class="toast-text">{toast.text}</span>
                            <button
                                type="button"
                                class="toast-close"
                                aria-label="Dismiss notification"
                                on:click=move |_| toasts.dismiss(id)
                            >
                                "×"
                            </button>
                        </div>
                    }
                }
            />
        </div>
    }
}
