//! The CRUD handlers shared by providers, routes, consumers and guardrail policies, written once
//! over the [`Resource`] trait.

use std::future::Future;

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use http::{HeaderValue, StatusCode};
use serde::Serialize;
use serde::de::DeserializeOwned;
use switchyard_shared::admin::SNAPSHOT_VERSION_HEADER;
use switchyard_shared::{ConsumerSpec, GuardrailSpec, ProviderSpec, RouteSpec};

use super::AdminState;
use super::error::AdminApiError;
use super::json::JsonBody;
use crate::reload::Trigger;
use crate::store::{Origin, Store, StoreError};

type StoreResult<T> = Result<T, StoreError>;

/// A configuration item the admin API exposes as a collection under `/api/{plural}`.
pub trait Resource: Serialize + DeserializeOwned + Send + 'static {
    /// The item as the API shows it: secrets masked.
    fn view(self) -> Self;
    fn list(store: &Store) -> impl Future<Output = StoreResult<Vec<Self>>> + Send;
    fn get(store: &Store, name: &str) -> impl Future<Output = StoreResult<Self>> + Send;
    fn create(
        store: &Store,
        origin: &Origin,
        item: Self,
    ) -> impl Future<Output = StoreResult<Self>> + Send;
    fn replace(
        store: &Store,
        origin: &Origin,
        name: &str,
        item: Self,
    ) -> impl Future<Output = StoreResult<Self>> + Send;
    fn delete(
        store: &Store,
        origin: &Origin,
        name: &str,
    ) -> impl Future<Output = StoreResult<()>> + Send;
}

impl Resource for ProviderSpec {
    fn view(self) -> Self {
        self.masked()
    }
    fn list(store: &Store) -> impl Future<Output = StoreResult<Vec<Self>>> + Send {
        store.list_providers()
    }
    fn get(store: &Store, name: &str) -> impl Future<Output = StoreResult<Self>> + Send {
        store.get_provider(name)
    }
    fn create(
        store: &Store,
        origin: &Origin,
        item: Self,
    ) -> impl Future<Output = StoreResult<Self>> + Send {
        store.create_provider(origin, item)
    }
    fn replace(
        store: &Store,
        origin: &Origin,
        name: &str,
        item: Self,
    ) -> impl Future<Output = StoreResult<Self>> + Send {
        store.replace_provider(origin, name, item)
    }
    fn delete(
        store: &Store,
        origin: &Origin,
        name: &str,
    ) -> impl Future<Output = StoreResult<()>> + Send {
        store.delete_provider(origin, name)
    }
}

impl Resource for RouteSpec {
    fn view(self) -> Self {
        self
    }
    fn list(store: &Store) -> impl Future<Output = StoreResult<Vec<Self>>> + Send {
        store.list_routes()
    }
    fn get(store: &Store, name: &str) -> impl Future<Output = StoreResult<Self>> + Send {
        store.get_route(name)
    }
    fn create(
        store: &Store,
        origin: &Origin,
        item: Self,
    ) -> impl Future<Output = StoreResult<Self>> + Send {
        store.create_route(origin, item)
    }
    fn replace(
        store: &Store,
        origin: &Origin,
        name: &str,
        item: Self,
    ) -> impl Future<Output = StoreResult<Self>> + Send {
        store.replace_route(origin, name, item)
    }
    fn delete(
        store: &Store,
        origin: &Origin,
        name: &str,
    ) -> impl Future<Output = StoreResult<()>> + Send {
        store.delete_route(origin, name)
    }
}

impl Resource for ConsumerSpec {
    fn view(self) -> Self {
        self
    }
    async fn list(store: &Store) -> StoreResult<Vec<Self>> {
        Ok(store
            .list_consumers()
            .await?
            .iter()
            .map(|c| c.view())
            .collect())
    }
    async fn get(store: &Store, name: &str) -> StoreResult<Self> {
        Ok(store.get_consumer(name).await?.view())
    }
    async fn create(store: &Store, origin: &Origin, item: Self) -> StoreResult<Self> {
        Ok(store.create_consumer(origin, item).await?.view())
    }
    async fn replace(store: &Store, origin: &Origin, name: &str, item: Self) -> StoreResult<Self> {
        Ok(store.replace_consumer(origin, name, item).await?.view())
    }
    fn delete(
        store: &Store,
        origin: &Origin,
        name: &str,
    ) -> impl Future<Output = StoreResult<()>> + Send {
        store.delete_consumer(origin, name)
    }
}

impl Resource for GuardrailSpec {
    /// Policies hold no secrets: a deny list or pattern is shown as stored.
    fn view(self) -> Self {
        self
    }
    fn list(store: &Store) -> impl Future<Output = StoreResult<Vec<Self>>> + Send {
        store.list_guardrails()
    }
    fn get(store: &Store, name: &str) -> impl Future<Output = StoreResult<Self>> + Send {
        store.get_guardrail(name)
    }
    fn create(
        store: &Store,
        origin: &Origin,
        item: Self,
    ) -> impl Future<Output = StoreResult<Self>> + Send {
        store.create_guardrail(origin, item)
    }
    fn replace(
        store: &Store,
        origin: &Origin,
        name: &str,
        item: Self,
    ) -> impl Future<Output = StoreResult<Self>> + Send {
        store.replace_guardrail(origin, name, item)
    }
    fn delete(
        store: &Store,
        origin: &Origin,
        name: &str,
    ) -> impl Future<Output = StoreResult<()>> + Send {
        store.delete_guardrail(origin, name)
    }
}

pub async fn list<R: Resource>(State(state): State<AdminState>) -> Result<Response, AdminApiError> {
    let items: Vec<R> = R::list(&state.store).await?;
    let views: Vec<R> = items.into_iter().map(R::view).collect();
    Ok(Json(views).into_response())
}

pub async fn get<R: Resource>(
    State(state): State<AdminState>,
    Path(name): Path<String>,
) -> Result<Response, AdminApiError> {
    Ok(Json(R::get(&state.store, &name).await?.view()).into_response())
}

pub async fn create<R: Resource>(
    State(state): State<AdminState>,
    Extension(origin): Extension<Origin>,
    JsonBody(item): JsonBody<R>,
) -> Result<Response, AdminApiError> {
    let created = R::create(&state.store, &origin, item).await?;
    Ok(written(&state, StatusCode::CREATED, Some(created.view())).await)
}

pub async fn replace<R: Resource>(
    State(state): State<AdminState>,
    Extension(origin): Extension<Origin>,
    Path(name): Path<String>,
    JsonBody(item): JsonBody<R>,
) -> Result<Response, AdminApiError> {
    let replaced = R::replace(&state.store, &origin, &name, item).await?;
    Ok(written(&state, StatusCode::OK, Some(replaced.view())).await)
}

pub async fn delete<R: Resource>(
    State(state): State<AdminState>,
    Extension(origin): Extension<Origin>,
    Path(name): Path<String>,
) -> Result<Response, AdminApiError> {
    R::delete(&state.store, &origin, &name).await?;
    Ok(written::<R>(&state, StatusCode::NO_CONTENT, None).await)
}

/// Answers a successful write once the change is live: the reload it triggers has finished, and
/// the snapshot version it produced is in the response header.
pub(super) async fn written<R: Serialize>(
    state: &AdminState,
    status: StatusCode,
    item: Option<R>,
) -> Response {
    let version = state.reloader.reload(Trigger::AdminWrite).await;
    let mut response = match item {
        Some(item) => (status, Json(item)).into_response(),
        None => status.into_response(),
    };
    if let Some(version) = version {
        response
            .headers_mut()
            .insert(SNAPSHOT_VERSION_HEADER, HeaderValue::from(version));
    }
    response
}
