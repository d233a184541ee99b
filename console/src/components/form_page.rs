//! What every create/edit form of a [`Resource`] does the same way: the breadcrumb and title, the
//! footer with Cancel and Save, and the save itself (POST a new item or PUT the edited one, the
//! toast, where to go next, and the server's 422 field errors and 409 conflicts put on the form).

use std::marker::PhantomData;
use std::rc::Rc;

use leptos::ev::SubmitEvent;
use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::NavigateOptions;
use leptos_router::hooks::use_navigate;
use switchyard_shared::FieldError;

use crate::api;
use crate::components::field::{FormErrorList, FormErrors};
use crate::components::page::PageHeader;
use crate::components::toast::{Toasts, use_toasts};
use crate::pages::history::last_changed::LastChanged;
use crate::resource::Resource;
use crate::util::focus_first_invalid;

/// Goes to a path in the console (the router's navigate, kept where a `Copy` form can reach it).
type Navigate = Rc<dyn Fn(&str)>;

/// The save state of one form: its errors (provided to its fields), whether a save is under way,
/// and the name of the item being edited (`None` for a new one).
pub struct SaveForm<T> {
    pub form: FormErrors,
    pub busy: RwSignal<bool>,
    original: StoredValue<Option<String>>,
    navigate: StoredValue<Navigate, LocalStorage>,
    toasts: Toasts,
    resource: PhantomData<fn() -> T>,
}

impl<T> Clone for SaveForm<T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T> Copy for SaveForm<T> {}

impl<T: Resource> SaveForm<T> {
    /// A form for a new item (`original_name` `None`) or for editing the named one.
    pub fn new(original_name: Option<String>) -> Self {
        let navigate = use_navigate();
        SaveForm {
            form: FormErrors::provide(),
            busy: RwSignal::new(false),
            original: StoredValue::new(original_name),
            navigate: StoredValue::new_local(Rc::new(move |path: &str| {
                navigate(path, NavigateOptions::default())
            })),
            toasts: use_toasts(),
            resource: PhantomData,
        }
    }

    pub fn editing(&self) -> bool {
        self.original.with_value(Option::is_some)
    }

    /// Starts a submit: the browser's own is stopped, a second one while a save is under way is
    /// ignored (returns false), and the last errors are cleared.
    pub fn begin(&self, ev: &SubmitEvent) -> bool {
        ev.prevent_default();
        if self.busy.get_untracked() {
            return false;
        }
        self.form.clear();
        true
    }

    /// Sends `spec` unless the client-side checks found `errors` (then they are shown). The
    /// server's field errors pass through `to_form`, for forms whose rows are not the request's.
    pub fn send(
        &self,
        spec: T,
        errors: Vec<FieldError>,
        to_form: impl Fn(Vec<FieldError>) -> Vec<FieldError> + 'static,
    ) {
        if self.form.reject(errors) {
            return;
        }
        let this = *self;
        this.busy.set(true);
        spawn_local(async move {
            let original = this.original.get_value();
            let result = match &original {
                Some(name) => api::put(&T::api_path(name), &spec).await,
                None => api::post(T::API, &spec).await,
            };
            match result {
                Ok(reply) => {
                    this.toasts.saved(reply.snapshot_version());
                    let next = spec.saved_href(original.is_none());
                    this.navigate.with_value(|navigate| navigate(&next));
                }
                Err(error) if error.is_validation() => {
                    this.form.set(to_form(error.fields));
                    focus_first_invalid();
                }
                Err(error) if error.status == 409 => this.form.set(vec![FieldError {
                    field: "name".into(),
                    message: error.message,
                }]),
                Err(error) => this.form.set_general(Some(error.message)),
            }
            this.busy.try_set(false);
        });
    }
}

/// The breadcrumb back to the list, the form's title and, when editing, who changed the item
/// last (from the audit trail), so an operator sees whose work they are about to change.
#[component]
pub fn FormHeader<T: Resource>(
    save: SaveForm<T>,
    #[prop(into)] title: String,
    #[prop(into)] subtitle: String,
) -> impl IntoView {
    view! {
        <nav class="breadcrumb" aria-label="Breadcrumb">
            <a href=T::PAGE>{T::TITLE}</a>
            <span aria-hidden="true">" / "</span>
            <span>{if save.editing() { "Edit" } else { "Create" }}</span>
        </nav>
        <PageHeader title=title subtitle=subtitle />
        {save
            .original
            .get_value()
            .map(|name| view! { <LastChanged kind=T::NOUN name=name /> })}
    }
}

/// The sticky footer: the errors no field shows, Cancel, and Save (`<noun>-save`).
#[component]
pub fn FormFooter<T: Resource>(save: SaveForm<T>) -> impl IntoView {
    let busy = save.busy;
    let label = format!("Save {}", T::NOUN);
    view! {
        <div class="form-footer">
            <FormErrorList />
            <div class="form-actions">
                <a class="btn" href=T::PAGE>
                    "Cancel"
                </a>
                <button
                    type="submit"
                    class="btn btn-primary"
                    data-testid=format!("{}-save", T::NOUN)
                    disabled=move || busy.get()
                >
                    {move || if busy.get() { "Saving…".to_owned() } else { label.clone() }}
                </button>
            </div>
        </div>
    }
}
