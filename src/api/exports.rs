//! Spec 002's exports over HTTP: a module's records as a file (directly up to 10,000 records,
//! as an export job above that or when asked), the export jobs, and the download of a job's
//! file.
//!
//! A direct export streams: the sink writes on a blocking thread into a channel that is the
//! response body, so memory stays at a few pages whatever the size. If the export fails half-way
//! the body ends with an error (the connection is cut), so a partial file never looks whole.
//! Export jobs are only created here; workers run them.

use std::io::Write;

use axum::Json;
use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use tokio::io::AsyncReadExt;
use tokio::sync::mpsc;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::auth::{Authorized, ExportsRead, ExportsWrite};
use super::error::{ApiError, ApiJson, ApiResult};
use super::params::{ExportJobPath, ModulePath, PublicBase, QueryParams};
use crate::apikeys::ApiKey;
use crate::error::Error;
use crate::export::{
    self, DEFAULT_PAGE_SIZE, Delivery, ExportFormat, ExportJob, ExportRequest, Prepared,
};

/// Bytes per body chunk of a streamed file.
const CHUNK_BYTES: usize = 64 * 1024;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(export_module))
        .routes(routes!(export_jobs))
        .routes(routes!(export_job, cancel_export_job))
        .routes(routes!(download_export))
}

/// `?job=true` asks for an export job whatever the size.
pub(crate) fn job_requested(query: &QueryParams) -> bool {
    query
        .pairs()
        .any(|(k, v)| k == "job" && matches!(v, "true" | "1"))
}

#[utoipa::path(post, path = "/v1/modules/{module}/export", tag = "exports",
    summary = "Export a module's records as CSV, PDF or Parquet",
    description = "Up to 10,000 records the response is the file (`Content-Type`, \
        `Content-Disposition: attachment`). Above that, or with `?job=true`, the response is \
        202 with an export job; its file is at `GET /v1/export-jobs/{id}/download` once \
        completed. At most 100,000 records.",
    params(ModulePath,
        ("job" = Option<bool>, Query, description = "Make an export job even for a small export")),
    request_body(content = Object, description = "{format: csv|pdf|parquet, config?: {columns, columnLabels, includeHeaders, dateFormat, title, description, sortField, sortDirection, limit, filter, advancedFilter, search, labelIds, typeIds}}"),
    responses((status = 200, description = "The file", content_type = "application/octet-stream"),
        (status = 202, description = "An export job", body = Object),
        (status = 400, description = "Invalid request", body = Object),
        (status = 404, description = "Module not found", body = Object)),
    security(("bearer" = ["exports:write"])))]
async fn export_module(
    auth: Authorized<ExportsWrite>,
    State(state): State<AppState>,
    Path(ModulePath { module }): Path<ModulePath>,
    query: QueryParams,
    base: PublicBase,
    ApiJson(request): ApiJson<ExportRequest>,
) -> ApiResult<Response> {
    let asked = job_requested(&query);
    export_response(&state, &module, request, asked, &auth.key, &base).await
}

/// Runs an API export: checks it, then streams the file or creates the job (see the module
/// note). Shared with report exports.
pub(crate) async fn export_response(
    state: &AppState,
    module: &str,
    request: ExportRequest,
    job_requested: bool,
    key: &ApiKey,
    base: &PublicBase,
) -> ApiResult<Response> {
    let mut request = request.for_api()?;
    // The export holds what the key's member may see; a body cannot say otherwise.
    request.member_id = key.member_id.clone();
    let user_id = key.id.as_str();
    let store = state.service.store();
    let prepared = export::prepare(store, module, &request).await?;
    match prepared.delivery(store, job_requested).await? {
        Delivery::Direct => stream_export(state, prepared).await,
        Delivery::Job => {
            // A worker takes it from the queue.
            let job = export::create_job(store, module, &request, Some(user_id)).await?;
            Ok((StatusCode::ACCEPTED, Json(job_json(&job, base))).into_response())
        }
    }
}

async fn stream_export(state: &AppState, prepared: Prepared) -> ApiResult<Response> {
    let format = prepared.request().format;
    let file_name = export::file_name(prepared.module().slug(), format, chrono::Utc::now());
    let (sender, receiver) = mpsc::channel::<std::io::Result<Bytes>>(4);
    let writer = ChannelWriter {
        sender: sender.clone(),
        buffer: Vec::with_capacity(CHUNK_BYTES),
    };
    let export = prepared
        .start(
            state.service.store(),
            Box::new(writer),
            "the response",
            DEFAULT_PAGE_SIZE,
        )
        .await?;
    tokio::spawn(async move {
        if let Err(e) = export.finish().await {
            tracing::warn!("direct export failed: {e}");
            // Ends the body with an error: the client sees a cut connection, not a short file.
            let _ = sender.send(Err(std::io::Error::other(e.to_string()))).await;
        }
    });
    let body = Body::from_stream(futures_util::stream::unfold(
        receiver,
        |mut receiver| async move { receiver.recv().await.map(|item| (item, receiver)) },
    ));
    Ok(file_response(body, format, &file_name, None))
}

fn content_type(format: ExportFormat) -> String {
    match format {
        ExportFormat::Csv => "text/csv; charset=utf-8".to_string(),
        other => other.content_type().to_string(),
    }
}

fn file_response(body: Body, format: ExportFormat, file_name: &str, size: Option<u64>) -> Response {
    let mut response = Response::new(body);
    let headers = response.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&content_type(format)) {
        headers.insert(header::CONTENT_TYPE, v);
    }
    // File names are made by the library from the module slug, a date and the extension.
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{file_name}\"")) {
        headers.insert(header::CONTENT_DISPOSITION, v);
    }
    if let Some(size) = size {
        headers.insert(header::CONTENT_LENGTH, HeaderValue::from(size));
    }
    response
}

/// Hands the sink's bytes to the response body in chunks. The sink runs on a blocking thread,
/// so waiting for the client here is what keeps a slow client from filling memory.
struct ChannelWriter {
    sender: mpsc::Sender<std::io::Result<Bytes>>,
    buffer: Vec<u8>,
}

impl ChannelWriter {
    fn send(&mut self) -> std::io::Result<()> {
        if self.buffer.is_empty() {
            return Ok(());
        }
        let chunk = Bytes::from(std::mem::replace(
            &mut self.buffer,
            Vec::with_capacity(CHUNK_BYTES),
        ));
        self.sender.blocking_send(Ok(chunk)).map_err(|_| {
            std::io::Error::new(std::io::ErrorKind::BrokenPipe, "the client went away")
        })
    }
}

impl Write for ChannelWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.buffer.extend_from_slice(buf);
        if self.buffer.len() >= CHUNK_BYTES {
            self.send()?;
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.send()
    }
}

/// A job as the API shows it: `fileUrl` is the absolute URL of the download route, and the
/// server's file path stays on the server.
pub(crate) fn job_json(job: &ExportJob, base: &PublicBase) -> Value {
    let mut value = json!(job);
    if let Some(object) = value.as_object_mut() {
        object.remove("filePath");
        if job.file_path.is_some() {
            let path = format!("/v1/export-jobs/{}/download", job.export_job_id);
            object.insert("fileUrl".into(), json!(base.url(&path)));
        }
    }
    value
}

#[utoipa::path(get, path = "/v1/export-jobs", tag = "exports",
    summary = "Export jobs, newest first",
    params(("limit" = Option<u32>, Query, description = "At most this many (1-100, default 25)")),
    responses((status = 200, description = "{jobs}", body = Object)),
    security(("bearer" = ["exports:read"])))]
async fn export_jobs(
    _auth: Authorized<ExportsRead>,
    State(state): State<AppState>,
    query: QueryParams,
    base: PublicBase,
) -> ApiResult<Json<Value>> {
    let limit = query.count("limit", 1, 100)?.unwrap_or(25);
    let jobs = export::list_jobs(state.service.store(), limit).await?;
    Ok(Json(
        json!({ "jobs": jobs.iter().map(|job| job_json(job, &base)).collect::<Vec<_>>() }),
    ))
}

#[utoipa::path(get, path = "/v1/export-jobs/{exportJobId}", tag = "exports",
    summary = "An export job's status and progress",
    params(ExportJobPath),
    responses((status = 200, description = "The job", body = Object),
        (status = 404, description = "Export job not found", body = Object)),
    security(("bearer" = ["exports:read"])))]
async fn export_job(
    _auth: Authorized<ExportsRead>,
    State(state): State<AppState>,
    Path(ExportJobPath { export_job_id: id }): Path<ExportJobPath>,
    base: PublicBase,
) -> ApiResult<Json<Value>> {
    let job = export::get_job(state.service.store(), &id).await?;
    Ok(Json(job_json(&job, &base)))
}

#[utoipa::path(get, path = "/v1/export-jobs/{exportJobId}/download", tag = "exports",
    summary = "The file of a completed export job (kept 24 hours)",
    params(ExportJobPath),
    responses((status = 200, description = "The file", content_type = "application/octet-stream"),
        (status = 404, description = "Export job not found, or its file expired", body = Object),
        (status = 409, description = "The job has not completed", body = Object)),
    security(("bearer" = ["exports:read"])))]
async fn download_export(
    _auth: Authorized<ExportsRead>,
    State(state): State<AppState>,
    Path(ExportJobPath { export_job_id: id }): Path<ExportJobPath>,
) -> ApiResult<Response> {
    let (job, path) = export::job_file(state.service.store(), &id).await?;
    let io = |source| {
        ApiError::Library(Error::Io {
            path: path.display().to_string(),
            source,
        })
    };
    let file = tokio::fs::File::open(&path).await.map_err(io)?;
    let size = file.metadata().await.map_err(io)?.len();
    let body = Body::from_stream(futures_util::stream::unfold(file, |mut file| async move {
        let mut buffer = vec![0; CHUNK_BYTES];
        match file.read(&mut buffer).await {
            Ok(0) => None,
            Ok(n) => {
                buffer.truncate(n);
                Some((Ok(Bytes::from(buffer)), file))
            }
            Err(e) => Some((Err(e), file)),
        }
    }));
    Ok(file_response(body, job.format, &job.file_name, Some(size)))
}

#[utoipa::path(delete, path = "/v1/export-jobs/{exportJobId}", tag = "exports",
    summary = "Cancel a pending or running export job (a running one stops at its next page)",
    params(ExportJobPath),
    responses((status = 200, description = "The job", body = Object),
        (status = 404, description = "Export job not found", body = Object),
        (status = 409, description = "The job has finished", body = Object)),
    security(("bearer" = ["exports:write"])))]
async fn cancel_export_job(
    _auth: Authorized<ExportsWrite>,
    State(state): State<AppState>,
    Path(ExportJobPath { export_job_id: id }): Path<ExportJobPath>,
    base: PublicBase,
) -> ApiResult<Json<Value>> {
    let job = export::cancel_job(state.service.store(), &id).await?;
    Ok(Json(job_json(&job, &base)))
}
