//! Spec 002's import steps over HTTP: parse (multipart upload, kept under a file id), suggest a
//! mapping, validate, execute (by file id or inline `rows`), the job list, a job, rollback.
//!
//! Inline `rows` are written to a CSV file ([`crate::import::inline`]) and go through the same
//! library calls as an uploaded file. Reading and counting a file is blocking work, so it runs on
//! tokio's blocking pool.

use std::path::PathBuf;

use axum::Json;
use axum::extract::multipart::MultipartRejection;
use axum::extract::{DefaultBodyLimit, Multipart, Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use tokio::io::AsyncWriteExt;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::auth::{Authorized, ImportsRead, ImportsWrite};
use super::error::{ApiError, ApiJson, ApiResult, too_large};
use super::params::{ImportJobPath, ModulePath, QueryParams};
use crate::error::Error;
use crate::import::locale::value_options_for;
use crate::import::mapping::{ColumnMapping, SuggestResult};
use crate::import::memory::suggest_for_columns;
use crate::import::source::MAX_COLUMN_NAME_BYTES;
use crate::import::uploads::ReadOptions;
use crate::import::validate::Warning;
use crate::import::{
    ImportJob, ImportRequest, PipelineOptions, PreparedImport, QueueOptions, RunOptions,
    SourceLimits, SourceOptions, Started, cancel, get_job, inline, list_jobs, parse_file, rollback,
    validate_file,
};
use crate::schema::Module;
use crate::schema::registry::ModuleRegistry;
use crate::schema::value::ValueOptions;
use crate::store::Store;

/// How much of an oversized upload is still read (and thrown away) before answering 413, so
/// that a client that is still sending sees the answer instead of a reset connection.
const OVERSIZE_DRAIN_BYTES: u64 = 8 * 1024 * 1024;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        // The upload counts its own bytes against --max-upload-mb (see parse_upload).
        .routes(routes!(parse_upload))
        .layer(DefaultBodyLimit::disable())
        .routes(routes!(suggest_mapping))
        .routes(routes!(validate))
        .routes(routes!(execute))
        .routes(routes!(import_jobs))
        .routes(routes!(import_job, rollback_job))
        .routes(routes!(cancel_job))
}

/// How uploads are read: the server's size limit, everything else detected.
fn source_options(state: &AppState) -> SourceOptions {
    SourceOptions {
        limits: SourceLimits {
            max_file_bytes: state.settings.max_upload_bytes,
            max_cells: state.settings.max_cells,
            ..SourceLimits::default()
        },
        ..SourceOptions::default()
    }
}

/// How the upload `file_id` is read: the server's limits and what its parse step was told.
fn upload_source_options(state: &AppState, file_id: &str) -> ApiResult<SourceOptions> {
    Ok(state
        .uploads
        .read_options(file_id)?
        .apply(source_options(state)))
}

/// The parse step's `sheet`, `encoding` and `delimiter` query parameters.
fn read_options(query: &QueryParams) -> ApiResult<ReadOptions> {
    let get = |name: &str| {
        query
            .text(name)
            .filter(|v| !v.is_empty())
            .map(str::to_string)
    };
    let delimiter = match get("delimiter") {
        None => None,
        Some(text) => {
            let mut chars = text.chars();
            match (chars.next(), chars.next()) {
                (Some(c), None) => Some(c),
                _ => {
                    return Err(Error::invalid_field(
                        "delimiter",
                        "must be one character",
                        Some(json!(text)),
                    )
                    .into());
                }
            }
        }
    };
    Ok(ReadOptions {
        sheet: get("sheet"),
        encoding: get("encoding"),
        delimiter,
    })
}

/// Spec 002's answer body: `{"success": true, "data": …}`.
fn success(data: &impl Serialize) -> Json<Value> {
    Json(json!({ "success": true, "data": data }))
}

/// Runs CPU-heavy or blocking work of a request (reading a file, suggesting a mapping) off the
/// async threads, under a [`work_permit`].
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> crate::Result<T> + Send + 'static,
) -> ApiResult<T> {
    let _permit = work_permit().await?;
    Ok(tokio::task::spawn_blocking(work)
        .await
        .map_err(task_failed)??)
}

/// One of the server's permits for CPU-heavy or memory-heavy work (reading a whole file,
/// suggesting a mapping, validating or importing a file): one per core, so requests beyond
/// that wait for a permit instead of taking the cores, and the memory of the workbooks they
/// read, that every other request needs. Never held while asking for another (the steps that
/// take one call the library, which takes none).
async fn work_permit() -> ApiResult<tokio::sync::SemaphorePermit<'static>> {
    static PERMITS: std::sync::OnceLock<tokio::sync::Semaphore> = std::sync::OnceLock::new();
    let permits = PERMITS.get_or_init(|| {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        tokio::sync::Semaphore::new(cores)
    });
    permits
        .acquire()
        .await
        .map_err(|e| ApiError::Library(Error::internal(format!("work permits: {e}"))))
}

/// A task that panicked (or was aborted) is the server's failure, not the request's.
fn task_failed(error: tokio::task::JoinError) -> ApiError {
    ApiError::Library(Error::internal(format!(
        "a task of the server failed: {error}"
    )))
}

#[utoipa::path(post, path = "/v1/modules/{module}/import/parse", tag = "imports",
    summary = "Step 1: upload a file (multipart field 'file') and get its columns, 50 sample rows and row count",
    description = "CSV, XLSX, XLS, ODS or Parquet, at most --max-upload-mb (default 100 MB). The \
        file is kept for the next steps under the returned `fileId` (24 hours), with the way to \
        read it (`sheet`, `encoding`, `delimiter`).",
    params(ModulePath,
        ("sheet" = Option<String>, Query, description = "Sheet of a workbook (default: the first)"),
        ("encoding" = Option<String>, Query, description = "Encoding of a CSV file, e.g. windows-1252 (default: detected)"),
        ("delimiter" = Option<String>, Query, description = "Delimiter of a CSV file, one character (default: detected)")),
    request_body(content_type = "multipart/form-data", content = Object,
        description = "A 'file' field with the file"),
    responses((status = 200, description = "{success, data: {fileId, sourceColumns, sampleRows, totalRows, fileType, fileName, encoding}}", body = Object),
        (status = 400, description = "No file uploaded, unsupported file type or unreadable file", body = Object),
        (status = 413, description = "File too large", body = Object)),
    security(("bearer" = ["imports:write"])))]
async fn parse_upload(
    _auth: Authorized<ImportsWrite>,
    State(state): State<AppState>,
    Path(ModulePath { module }): Path<ModulePath>,
    query: QueryParams,
    headers: HeaderMap,
    multipart: Result<Multipart, MultipartRejection>,
) -> ApiResult<Json<Value>> {
    state.service.modules().get(&module).await?;
    let read = read_options(&query)?;
    let limit = state.settings.max_upload_bytes;
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|len| len > limit.saturating_add(OVERSIZE_DRAIN_BYTES)) {
        return Err(too_large("the upload", limit));
    }
    let mut multipart = multipart?;
    let mut received = None;
    while let Some(mut field) = multipart.next_field().await? {
        if field.name() != Some("file") {
            continue;
        }
        let file_name = field.file_name().unwrap_or("upload.csv").to_string();
        let (file_id, path) = state.uploads.reserve(&file_name)?;
        // Whatever stops the upload half-way (too large, the client gone) leaves no file.
        if let Err(e) = receive(&mut field, &path, limit).await {
            state.uploads.remove(&file_id)?;
            return Err(match e {
                Received::TooLarge => too_large(&file_name, limit),
                Received::Failed(e) => e,
            });
        }
        received = Some((file_id, path));
        break;
    }
    let Some((file_id, path)) = received else {
        return Err(Error::validation(
            "No file uploaded: send the file in a multipart field named 'file'",
        )
        .into());
    };
    let options = read.apply(source_options(&state));
    let parsed = blocking(move || parse_file(&path, &options)).await;
    let parsed = match parsed.and_then(|parsed| {
        state.uploads.save_read_options(&file_id, &read)?;
        Ok(parsed)
    }) {
        Ok(parsed) => parsed,
        Err(e) => {
            state.uploads.remove(&file_id)?;
            return Err(e);
        }
    };
    let mut data = json!(parsed);
    data["fileName"] = json!(state.uploads.display_name(&file_id)?);
    data["fileId"] = json!(file_id);
    Ok(success(&data))
}

/// Why an upload was not received whole.
enum Received {
    TooLarge,
    Failed(ApiError),
}

/// Writes the multipart field to `path`, at most `limit` bytes. Past the limit it reads on (and
/// discards) a little, so that a client still sending gets to read the 413 rather than a reset
/// connection.
async fn receive(
    field: &mut axum::extract::multipart::Field<'_>,
    path: &std::path::Path,
    limit: u64,
) -> Result<(), Received> {
    let failed = |e: ApiError| Received::Failed(e);
    let mut file = tokio::fs::File::create(path)
        .await
        .map_err(|source| failed(io_error(path, source)))?;
    let mut size: u64 = 0;
    while let Some(chunk) = field.chunk().await.map_err(|e| failed(e.into()))? {
        size += chunk.len() as u64;
        if size > limit {
            while size <= limit.saturating_add(OVERSIZE_DRAIN_BYTES) {
                match field.chunk().await {
                    Ok(Some(chunk)) => size += chunk.len() as u64,
                    _ => break,
                }
            }
            return Err(Received::TooLarge);
        }
        file.write_all(&chunk)
            .await
            .map_err(|source| failed(io_error(path, source)))?;
    }
    file.flush()
        .await
        .map_err(|source| failed(io_error(path, source)))
}

fn io_error(path: &std::path::Path, source: std::io::Error) -> ApiError {
    ApiError::Library(Error::Io {
        path: path.display().to_string(),
        source,
    })
}

/// The rows an import step reads: an uploaded file, or rows given inline (written to a CSV
/// file that is deleted when this is dropped).
struct StepSource {
    path: PathBuf,
    options: SourceOptions,
    inline_upload: Option<(crate::import::uploads::Uploads, String)>,
}

impl Drop for StepSource {
    fn drop(&mut self) {
        if let Some((uploads, id)) = &self.inline_upload
            && let Err(e) = uploads.remove(id)
        {
            tracing::warn!("cannot remove the inline rows file: {e}");
        }
    }
}

async fn step_source(
    state: &AppState,
    file_id: Option<String>,
    rows: Option<Vec<Map<String, Value>>>,
) -> ApiResult<StepSource> {
    match (file_id, rows) {
        (Some(file_id), None) => Ok(StepSource {
            path: state.uploads.path(&file_id)?,
            options: upload_source_options(state, &file_id)?,
            inline_upload: None,
        }),
        (None, Some(rows)) => {
            let (id, path) = state.uploads.reserve("rows.csv")?;
            let source = StepSource {
                path: path.clone(),
                options: inline::source_options(),
                inline_upload: Some((state.uploads.clone(), id)),
            };
            blocking(move || inline::write_rows_csv(&rows, &path)).await?;
            Ok(source)
        }
        (Some(_), Some(_)) => Err(Error::validation(
            "give either fileId (from the parse step) or rows, not both",
        )
        .into()),
        (None, None) => Err(Error::invalid_field(
            "rows",
            "give the rows, or the fileId the parse step returned",
            None,
        )
        .into()),
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct SuggestBody {
    file_id: Option<String>,
    source_columns: Option<Vec<String>>,
    #[serde(default)]
    sample_data: Vec<Map<String, Value>>,
}

#[utoipa::path(post, path = "/v1/modules/{module}/import/suggest-mapping", tag = "imports",
    summary = "Step 2: suggest a column-to-field mapping",
    description = "From `sourceColumns` (and `sampleData`) as the spec shows, or from an uploaded \
        file's `fileId`. Mappings confirmed by earlier imports of the module come first, then \
        those other modules confirmed for a field of the same slug and type. A select column's \
        suggestion carries `valueMap`: each distinct sample value (at most 50) with the option \
        it seems to name, or null when unsure.",
    params(ModulePath),
    request_body(content = Object, description = "{sourceColumns, sampleData?} or {fileId}"),
    responses((status = 200, description = "{success, data: {suggestions, aiUsed, targetFields}}", body = Object),
        (status = 400, description = "Invalid request", body = Object)),
    security(("bearer" = ["imports:write"])))]
async fn suggest_mapping(
    _auth: Authorized<ImportsWrite>,
    State(state): State<AppState>,
    Path(ModulePath { module }): Path<ModulePath>,
    ApiJson(body): ApiJson<SuggestBody>,
) -> ApiResult<Json<Value>> {
    let module = state.service.modules().get(&module).await?;
    let result = match (body.file_id, body.source_columns) {
        (Some(file_id), None) => {
            let path = state.uploads.path(&file_id)?;
            let options = upload_source_options(&state, &file_id)?;
            suggest_for_source(&state, module, path, options).await?
        }
        (None, Some(columns)) => {
            check_source_columns(&columns, SourceLimits::default().max_columns)?;
            suggest_off_thread(&state, module, columns, body.sample_data).await?
        }
        _ => {
            return Err(Error::invalid_field(
                "sourceColumns",
                "give sourceColumns, or the fileId the parse step returned (not both)",
                None,
            )
            .into());
        }
    };
    Ok(success(&result))
}

/// The suggestions for a file's columns and sample rows.
async fn suggest_for_source(
    state: &AppState,
    module: Module,
    path: PathBuf,
    options: SourceOptions,
) -> ApiResult<SuggestResult> {
    let parsed = blocking(move || parse_file(&path, &options)).await?;
    suggest_off_thread(state, module, parsed.source_columns, parsed.sample_rows).await
}

/// Similarity measures over every column and field are CPU work: off the request threads.
async fn suggest_off_thread(
    state: &AppState,
    module: Module,
    columns: Vec<String>,
    samples: Vec<Map<String, Value>>,
) -> ApiResult<SuggestResult> {
    let store = state.service.store().clone();
    let runtime = tokio::runtime::Handle::current();
    blocking(move || runtime.block_on(suggest_for_columns(&store, &module, &columns, &samples)))
        .await
}

/// The mapping a step uses: the body's, else the one suggested for the source, taken as it is
/// (as the CLI does without `--mapping`).
async fn mapping_or_suggested(
    state: &AppState,
    module: &Module,
    source: &StepSource,
    given: Option<Vec<ColumnMapping>>,
) -> ApiResult<Vec<ColumnMapping>> {
    if let Some(mapping) = given {
        return Ok(mapping);
    }
    let suggested = suggest_for_source(
        state,
        module.clone(),
        source.path.clone(),
        source.options.clone(),
    )
    .await?;
    Ok(suggested
        .suggestions
        .into_iter()
        .map(ColumnMapping::from)
        .collect())
}

/// `sourceColumns` as a request gives them: no more columns than a file may have, and no name
/// over [`MAX_COLUMN_NAME_BYTES`] (suggestion time grows with the names' lengths).
fn check_source_columns(columns: &[String], max_columns: usize) -> ApiResult<()> {
    if columns.len() > max_columns {
        return Err(Error::invalid_field(
            "sourceColumns",
            format!(
                "has {} columns, over the limit of {max_columns}",
                columns.len()
            ),
            None,
        )
        .into());
    }
    if let Some((index, name)) = columns
        .iter()
        .enumerate()
        .find(|(_, name)| name.len() > MAX_COLUMN_NAME_BYTES)
    {
        return Err(Error::invalid_field(
            "sourceColumns",
            format!(
                "column {} ('{}') is {} bytes long, over the limit of {MAX_COLUMN_NAME_BYTES} \
                 bytes for a column name",
                index + 1,
                crate::error::excerpt(name),
                name.len()
            ),
            None,
        )
        .into());
    }
    Ok(())
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ValidateBody {
    file_id: Option<String>,
    rows: Option<Vec<Map<String, Value>>>,
    /// Absent: the suggested mapping.
    column_mapping: Option<Vec<ColumnMapping>>,
    #[serde(default)]
    static_values: Map<String, Value>,
    locale: Option<String>,
}

#[utoipa::path(post, path = "/v1/modules/{module}/import/validate", tag = "imports",
    summary = "Step 3: check every row against a mapping, writing nothing",
    params(ModulePath),
    description = "Without a `locale` (nor one on the module), the file's values decide the \
        day/month order of dates and the decimal mark of numbers; where none decides, a warning \
        `ambiguous_date` or `ambiguous_number` names the column and its first row.",
    request_body(content = Object, description = "{rows | fileId, columnMapping?, staticValues?, locale?}; without columnMapping the suggested mapping is used; a columnMapping entry of a select field may carry valueMap {sourceValue: option}. Inline rows are numbered by their place (the first is row 1), a file's rows as the file numbers them (the header is row 1)"),
    responses((status = 200, description = "{success, data: {isValid, totalRows, validRows, errorRows, errors, warnings}}", body = Object),
        (status = 400, description = "Invalid request or mapping", body = Object)),
    security(("bearer" = ["imports:write"])))]
async fn validate(
    _auth: Authorized<ImportsWrite>,
    State(state): State<AppState>,
    Path(ModulePath { module }): Path<ModulePath>,
    ApiJson(body): ApiJson<ValidateBody>,
) -> ApiResult<Json<Value>> {
    let module = state.service.modules().get(&module).await?;
    let source = step_source(&state, body.file_id, body.rows).await?;
    let mapping = mapping_or_suggested(&state, &module, &source, body.column_mapping).await?;
    let (value_options, value_warnings) =
        read_values_as(module.clone(), &source, &mapping, body.locale).await?;
    let permit = work_permit().await?;
    let mut report = validate_file(
        &module,
        &source.path,
        &source.options,
        &mapping,
        &body.static_values,
        &value_options,
        PipelineOptions::default(),
    )
    .await?;
    drop(permit);
    report.warnings.splice(0..0, value_warnings);
    Ok(success(&report))
}

/// How the file's values read ([`value_options_for`]: the body's locale, the module's, else the
/// file's own values) and the warnings where nothing decides.
async fn read_values_as(
    module: crate::schema::Module,
    source: &StepSource,
    mapping: &[ColumnMapping],
    locale: Option<String>,
) -> ApiResult<(ValueOptions, Vec<Warning>)> {
    let (path, options, mapping) = (
        source.path.clone(),
        source.options.clone(),
        mapping.to_vec(),
    );
    blocking(move || value_options_for(&module, &path, &options, &mapping, locale.as_deref())).await
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ExecuteBody {
    file_id: Option<String>,
    rows: Option<Vec<Map<String, Value>>>,
    /// Absent: the suggested mapping.
    column_mapping: Option<Vec<ColumnMapping>>,
    #[serde(flatten)]
    request: ImportRequest,
}

#[utoipa::path(post, path = "/v1/modules/{module}/import/execute", tag = "imports",
    summary = "Step 4: run the import",
    description = "Up to 5,000 rows run in the request and return the result (`processingMode` \
        sync). Larger imports return the job at once (`stream` up to 50,000 rows, `background` \
        above); poll `GET …/import/jobs/{jobId}`.",
    params(ModulePath),
    request_body(content = Object, description = "{rows | fileId, columnMapping? (absent: the suggested mapping; entries of select fields may carry valueMap {sourceValue: option}), duplicateStrategy?, duplicateMatchFields?, mergeMode?, aiMappingUsed?, skipValidation?, createMissingReferences?, staticValues?, locale?, maxErrors?}"),
    responses((status = 200, description = "{success, data: {importJobId, status, processingMode, successRows, errorRows, skippedRows, createdRecordIds, errors, referenceWarnings}}", body = Object),
        (status = 202, description = "{success, data: job} for a stream or background import", body = Object),
        (status = 400, description = "Invalid request, mapping or file", body = Object)),
    security(("bearer" = ["imports:write"])))]
async fn execute(
    auth: Authorized<ImportsWrite>,
    State(state): State<AppState>,
    Path(ModulePath { module }): Path<ModulePath>,
    ApiJson(body): ApiJson<ExecuteBody>,
) -> ApiResult<Response> {
    let display_name = match &body.file_id {
        Some(file_id) => Some(state.uploads.display_name(file_id)?),
        None => None,
    };
    let source = step_source(&state, body.file_id, body.rows).await?;
    let mut request = body.request;
    let target = state.service.modules().get(&module).await?;
    request.column_mapping =
        mapping_or_suggested(&state, &target, &source, body.column_mapping).await?;
    // An execute's answer (spec 002) has no place for the warnings of how values read.
    let (value_options, _) = read_values_as(
        target,
        &source,
        &request.column_mapping,
        request.locale.clone(),
    )
    .await?;
    let options = RunOptions {
        source: source.options.clone(),
        value_options,
        ..RunOptions::new(auth.actor())
    };
    // The queue keeps its own copy of the file, so the upload (or the inline rows file) may go.
    let queue = QueueOptions {
        file_name: None,
        actor: auth.actor(),
        copy_into: Some(state.settings.jobs_dir.clone()),
    };
    // Its own task: a client that disconnects does not stop an import half-way (the job ends
    // as it would have, and is in the job list). The task owns the source, so inline rows stay
    // on disk until the import is done. It runs for the key's member: the records it creates
    // are theirs, and it matches only records they may see.
    let service = auth.records.clone();
    let permit = work_permit().await?;
    let import = tokio::spawn(async move {
        // Counting the file and a small import's run: one permit's work, released when the
        // task ends, whether or not the client is still there.
        let _permit = permit;
        PreparedImport::prepare(
            &service,
            &module,
            &source.path,
            request,
            source.options.clone(),
            options.value_options.clone(),
        )
        .await
        .map(|prepared| match display_name {
            Some(name) => prepared.with_file_name(name),
            None => prepared,
        })?
        .start(&service, &options, queue)
        .await
    });
    match import.await.map_err(task_failed)?? {
        Started::Finished(result) => Ok(success(&result).into_response()),
        Started::Queued(job) => Ok((StatusCode::ACCEPTED, success(&job)).into_response()),
    }
}

#[utoipa::path(get, path = "/v1/modules/{module}/import/jobs", tag = "imports",
    summary = "The module's import jobs, newest first",
    params(ModulePath,
        ("limit" = Option<i64>, Query, description = "At most this many jobs (1-100, default 50)")),
    responses((status = 200, description = "{success, data: [job]}", body = Object)),
    security(("bearer" = ["imports:read"])))]
async fn import_jobs(
    _auth: Authorized<ImportsRead>,
    State(state): State<AppState>,
    Path(ModulePath { module }): Path<ModulePath>,
    query: QueryParams,
) -> ApiResult<Json<Value>> {
    let limit = query.count("limit", 1, 100)?.map(i64::from);
    let jobs = list_jobs(
        state.service.store(),
        state.service.modules(),
        &module,
        limit,
    )
    .await?;
    Ok(success(&jobs))
}

#[utoipa::path(get, path = "/v1/modules/{module}/import/jobs/{jobId}", tag = "imports",
    summary = "An import job's status and progress",
    params(ImportJobPath),
    responses((status = 200, description = "{success, data: job}", body = Object),
        (status = 404, description = "Import job not found", body = Object)),
    security(("bearer" = ["imports:read"])))]
async fn import_job(
    _auth: Authorized<ImportsRead>,
    State(state): State<AppState>,
    Path(path): Path<ImportJobPath>,
) -> ApiResult<Json<Value>> {
    job_answer(&state, path, get_job).await
}

#[utoipa::path(delete, path = "/v1/modules/{module}/import/jobs/{jobId}", tag = "imports",
    summary = "Roll an import back: delete the records it created, restore the records it updated",
    params(ImportJobPath),
    responses((status = 200, description = "{success, data: {deletedCount, restoredCount, conflicts}}", body = Object),
        (status = 404, description = "Import job not found", body = Object),
        (status = 409, description = "The job is still running", body = Object)),
    security(("bearer" = ["imports:write"])))]
async fn rollback_job(
    auth: Authorized<ImportsWrite>,
    State(state): State<AppState>,
    Path(ImportJobPath { module, job_id }): Path<ImportJobPath>,
) -> ApiResult<Json<Value>> {
    // Its own task, like execute: a client that disconnects does not cut a rollback half-way.
    let service = state.service.clone();
    let actor = auth.actor();
    let undo = tokio::spawn(async move {
        rollback(service.store(), service.modules(), &module, &job_id, &actor).await
    });
    let outcome = undo.await.map_err(task_failed)??;
    Ok(success(&outcome))
}

#[utoipa::path(post, path = "/v1/modules/{module}/import/jobs/{jobId}/cancel", tag = "imports",
    summary = "Cancel a pending or running import (a running one stops at its next batch and is rolled back)",
    params(ImportJobPath),
    responses((status = 200, description = "{success, data: job}", body = Object),
        (status = 404, description = "Import job not found", body = Object),
        (status = 409, description = "The job has finished (roll it back instead)", body = Object)),
    security(("bearer" = ["imports:write"])))]
async fn cancel_job(
    _auth: Authorized<ImportsWrite>,
    State(state): State<AppState>,
    Path(path): Path<ImportJobPath>,
) -> ApiResult<Json<Value>> {
    job_answer(&state, path, cancel).await
}

/// The answer of a library call on one import job (`get_job`, `cancel`): the job as it is after
/// the call.
async fn job_answer(
    state: &AppState,
    ImportJobPath { module, job_id }: ImportJobPath,
    call: impl AsyncFnOnce(&Store, &ModuleRegistry, &str, &str) -> crate::Result<ImportJob>,
) -> ApiResult<Json<Value>> {
    let service = &state.service;
    let job = call(service.store(), service.modules(), &module, &job_id).await?;
    Ok(success(&job))
}
