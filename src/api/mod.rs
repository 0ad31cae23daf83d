//! The HTTP API (`recordport serve`): the endpoints of spec 000 (Records) and spec 002 (Import &
//! Export), saved reports, API keys with scopes, request limits and an OpenAPI document, all a
//! thin axum layer over the library.
//!
//! ```text
//! request ─> trace ─> body limit ─> route ─> Authorized<Scope> (401 / 429 / 403) ─> handler
//!         ─> library call ─> JSON in the spec's shape, or the spec's error body (error.rs)
//! ```
//!
//! Jobs (imports above 5,000 rows, large or requested exports) go to the queue in the database;
//! workers run them (`recordport serve` runs one in its own process unless `--no-worker`).
//!
//! One file per area: [`records`], [`record_sync`] (bulk, upserts, lookup), [`query`] (CQL), [`imports`], [`exports`], [`reports`], [`webhooks`]; [`auth`] (keys and
//! scopes), [`limits`] (rate and size), [`openapi`] (the document), `params` (path parameters,
//! extracted and documented by one type each; the query string), [`error`] (the error body).

pub mod auth;
pub mod error;
pub mod exports;
pub mod imports;
pub mod limits;
pub mod members;
pub mod openapi;
mod params;
pub mod query;
pub mod record_sync;
pub mod records;
pub mod reports;
pub mod webhooks;

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request};
use axum::routing::get;
use tower_http::trace::{DefaultMakeSpan, DefaultOnResponse, TraceLayer};
use tracing::Level;
use utoipa::OpenApi as _;
use utoipa_axum::router::OpenApiRouter;

use crate::import::uploads::Uploads;
use crate::records::RecordService;
use error::ApiError;
use limits::{FailedAuthLimits, RateLimits};

/// How a server behaves; the defaults are those of `recordport serve`.
#[derive(Debug, Clone)]
pub struct ApiSettings {
    /// The largest request body (uploads included), in bytes.
    pub max_upload_bytes: u64,
    /// Most cells an uploaded workbook may hold (`SourceLimits::max_cells`).
    pub max_cells: u64,
    /// Requests per minute per API key; 0 turns the limit off.
    pub rate_limit_per_minute: u32,
    /// Failed authentications per minute per client address; 0 turns the limit off.
    pub failed_auth_per_minute: u32,
    /// Where uploaded files wait between the import steps.
    pub uploads_dir: PathBuf,
    /// Where background import jobs keep their copy of the file until a worker has run them.
    pub jobs_dir: PathBuf,
    /// Accept webhook URLs that reach loopback or private addresses (`--allow-private-webhooks`).
    pub allow_private_webhooks: bool,
    /// The absolute URL clients reach this server at (`--public-url`, no trailing slash), for
    /// links in answers; `None`: `http://` and each request's `Host`.
    pub public_url: Option<String>,
}

impl Default for ApiSettings {
    fn default() -> Self {
        ApiSettings {
            max_upload_bytes: limits::DEFAULT_MAX_UPLOAD_MB * 1024 * 1024,
            max_cells: crate::import::SourceLimits::default().max_cells,
            rate_limit_per_minute: limits::DEFAULT_RATE_LIMIT_PER_MINUTE,
            failed_auth_per_minute: limits::DEFAULT_FAILED_AUTH_PER_MINUTE,
            uploads_dir: PathBuf::from("uploads"),
            jobs_dir: PathBuf::from("jobs"),
            allow_private_webhooks: false,
            public_url: None,
        }
    }
}

/// What every handler gets.
#[derive(Clone)]
pub struct AppState {
    pub service: RecordService,
    pub uploads: Uploads,
    pub settings: Arc<ApiSettings>,
    pub rate_limits: Arc<RateLimits>,
    pub failed_auth: Arc<FailedAuthLimits>,
}

impl AppState {
    pub fn new(service: RecordService, settings: ApiSettings) -> AppState {
        AppState {
            uploads: Uploads::new(settings.uploads_dir.clone()),
            rate_limits: Arc::new(RateLimits::per_minute(settings.rate_limit_per_minute)),
            failed_auth: Arc::new(FailedAuthLimits::per_minute(
                settings.failed_auth_per_minute,
            )),
            settings: Arc::new(settings),
            service,
        }
    }
}

/// The routes of the API with their OpenAPI document.
pub fn api_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(openapi::ApiDoc::openapi())
        .merge(records::routes())
        .merge(record_sync::routes())
        .merge(members::routes())
        .merge(query::routes())
        .merge(imports::routes())
        .merge(exports::routes())
        .merge(reports::routes())
        .merge(webhooks::routes())
}

/// The whole service: the API, `GET /v1/openapi.json`, the error body for unknown routes and
/// methods, request logs and the body limit.
pub fn router(service: RecordService, settings: ApiSettings) -> Router {
    let max_body = usize::try_from(settings.max_upload_bytes).unwrap_or(usize::MAX);
    let state = AppState::new(service, settings);
    let (routes, document) = api_routes().split_for_parts();
    let document = Arc::new(document);
    routes
        .route(
            "/v1/openapi.json",
            get(move || {
                let document = document.clone();
                async move { axum::Json(document.as_ref().clone()) }
            }),
        )
        .method_not_allowed_fallback(method_not_allowed)
        .fallback(route_not_found)
        .layer(DefaultBodyLimit::max(max_body))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(DefaultMakeSpan::new().level(Level::INFO))
                .on_response(DefaultOnResponse::new().level(Level::INFO)),
        )
        .with_state(state)
}

async fn route_not_found(request: Request) -> ApiError {
    ApiError::RouteNotFound {
        method: request.method().to_string(),
        path: request.uri().path().to_string(),
    }
}

async fn method_not_allowed(request: Request) -> ApiError {
    ApiError::MethodNotAllowed {
        method: request.method().to_string(),
        path: request.uri().path().to_string(),
    }
}

/// Serves `router` on `listener` until `shutdown` completes; requests in flight are finished
/// first.
pub async fn serve(
    listener: tokio::net::TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    // The client's address reaches the handlers: failed authentications are limited per
    // address.
    let service = router.into_make_service_with_connect_info::<std::net::SocketAddr>();
    axum::serve(listener, service)
        .with_graceful_shutdown(shutdown)
        .await
}
