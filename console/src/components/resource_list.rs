//! The list page of any [`Resource`]: the title with a Create button, the table (loading, failure
//! and empty states included), Edit and Delete on every row, and the delete confirmation. A
//! resource brings only its columns; test ids follow its noun (`provider-row-<name>`, with the name
//! also as `data-name`; `provider-edit-<name>`, `provider-delete-<name>`, `provider-new`).

use std::sync::Arc;

use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::api::{self, ApiError};
use crate::components::icons::Icon;
use crate::components::item::DeleteItem;
use crate::components::page::{LoadError, Loading, PageHeader};
use crate::resource::Resource;

/// Renders one cell, or extra row actions, from an item.
pub type Cell<T> = Arc<dyn Fn(&T) -> AnyView + Send + Sync>;

/// One column after the name: its heading (also the cell's label on narrow screens), a class
/// such as `num` or `truncate`, and how to render a cell.
pub struct Column<T> {
    pub title: &'static str,
    pub class: &'static str,
    pub cell: Cell<T>,
}

impl<T> Column<T> {
    pub fn new(title: &'static str, cell: impl Fn(&T) -> AnyView + Send + Sync + 'static) -> Self {
        Column {
            title,
            class: "",
            cell: Arc::new(cell),
        }
    }

    pub fn class(mut self, class: &'static str) -> Self {
        self.class = class;
        self
    }
}

impl<T> Clone for Column<T> {
    fn clone(&self) -> Self {
        Column {
            title: self.title,
            class: self.class,
            cell: self.cell.clone(),
        }
    }
}

/// The loaded list: `None` while loading.
type Loaded<T> = RwSignal<Option<Result<Vec<T>, ApiError>>>;

/// Loads `T::API` into `list`, again after each delete.
fn load_list<T: Resource>(list: Loaded<T>) {
    spawn_local(async move {
        list.try_set(Some(api::get::<Vec<T>>(T::API).await));
    });
}

/// A resource's list page.
#[component]
pub fn ResourceListPage<T: Resource>(
    #[prop(into)] subtitle: String,
    columns: Vec<Column<T>>,
    /// What the page says while there are none.
    empty: &'static str,
    /// What deleting the named item does, for the confirmation.
    delete_message: fn(&str) -> String,
    /// Shown after the name in its cell, such as a route's priority.
    #[prop(optional)]
    name_extra: Option<Cell<T>>,
    /// Row actions before Edit, such as a route's Usage.
    #[prop(optional)]
    actions: Option<Cell<T>>,
) -> impl IntoView {
    let list: Loaded<T> = RwSignal::new(None);
    let load = move || load_list::<T>(list);
    load();
    let deleting = RwSignal::new(None::<String>);
    let new_href = format!("{}/new", T::PAGE);
    let create = format!("Create {}", T::NOUN);
    let empty_href = new_href.clone();
    let empty_create = create.clone();
    let columns = StoredValue::new(columns);
    let name_extra = StoredValue::new(name_extra);
    let actions = StoredValue::new(actions);
    let table = move |items: Vec<T>| {
        let heads = columns.with_value(|columns| {
            columns
                .iter()
                .map(|c| view! { <th scope="col" class=c.class>{c.title}</th> })
                .collect_view()
        });
        let rows = items
            .into_iter()
            .map(|item| {
                view! {
                    <ResourceRow
                        item=item
                        columns=columns.get_value()
                        name_extra=name_extra.get_value()
                        actions=actions.get_value()
                        on_delete=move |name| deleting.set(Some(name))
                    />
                }
            })
            .collect_view();
        view! {
            <div class="table-wrap">
                <table class="table table-cards">
                    <thead>
                        <tr>
                            <th scope="col">"Name"</th>
                            {heads}
                            <th scope="col" class="actions-col">
                                <span class="sr-only">"Actions"</span>
                            </th>
                        </tr>
                    </thead>
                    <tbody>{rows}</tbody>
                </table>
            </div>
        }
    };
    view! {
        <PageHeader title=T::TITLE subtitle=subtitle>
            <a class="btn btn-primary" href=new_href data-testid=format!("{}-new", T::NOUN)>
                <Icon name="plus" />
                {create}
            </a>
        </PageHeader>
        <section class="card card-flush">
            {move || match list.get() {
                None => view! { <Loading /> }.into_any(),
                Some(Err(error)) => {
                    view! { <LoadError message=error.message on_retry=move |()| load() /> }.into_any()
                }
                Some(Ok(items)) if items.is_empty() => {
                    view! {
                        <div class="empty">
                            <p>{empty}</p>
                            <a class="btn btn-primary" href=empty_href.clone()>
                                {empty_create.clone()}
                            </a>
                        </div>
                    }
                        .into_any()
                }
                Some(Ok(items)) => table(items).into_any(),
            }}
        </section>
        <DeleteItem
            target=deleting
            api_prefix=T::API
            noun=T::NOUN
            message=delete_message
            on_deleted=move |()| load()
        />
    }
}

#[component]
fn ResourceRow<T: Resource>(
    item: T,
    columns: Vec<Column<T>>,
    name_extra: Option<Cell<T>>,
    actions: Option<Cell<T>>,
    #[prop(into)] on_delete: Callback<String>,
) -> impl IntoView {
    let name = item.name().to_owned();
    let noun = T::NOUN;
    let href = T::href(&name);
    let cells = columns
        .iter()
        .map(|c| {
            view! {
                <td class=c.class data-label=c.title>
                    {(c.cell)(&item)}
                </td>
            }
        })
        .collect_view();
    let delete_name = name.clone();
    view! {
        <tr data-testid=format!("{noun}-row-{name}") data-name=name.clone()>
            <th scope="row">
                <a class="strong-link" href=href.clone()>
                    {name.clone()}
                </a>
                {name_extra.map(|extra| extra(&item))}
            </th>
            {cells}
            <td class="actions-col">
                <div class="row-actions">
                    {actions.map(|actions| actions(&item))}
                    <a
                        class="btn btn-small"
                        href=href
                        data-testid=format!("{noun}-edit-{name}")
                        aria-label=format!("Edit {noun} {name}")
                    >
                        <Icon name="edit" size=14 />
                        "Edit"
                    </a>
                    <button
                        type="button"
                        class="btn btn-small btn-danger-ghost"
                        data-testid=format!("{noun}-delete-{name}")
                        aria-label=format!("Delete {noun} {name}")
                        on:click=move |_| on_delete.run(delete_name.clone())
                    >
                        <Icon name="trash" size=14 />
                        "Delete"
                    </button>
                </div>
            </td>
        </tr>
    }
}
