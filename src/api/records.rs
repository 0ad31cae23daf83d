//! Spec 000's Records endpoints: list (every query parameter), get (or a past version), create,
//! update (409 on a stale `version`), delete, restore, bulk update/delete/restore, trash (list,
//! purge, empty), versions and references.

use axum::Json;
use axum::body::Bytes;
use axum::extract::Path;
use axum::http::StatusCode;
use serde::Serialize;
use serde_json::{Value, json};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::auth::{Authorized, RecordsRead, RecordsWrite};
use super::error::ApiJson;
use super::error::ApiResult;
use super::params::{LinkedRecordsPath, ModulePath, QueryParams, RecordPath, ReferencePath};
use crate::error::{Error, Result};
use crate::records::query::DEFAULT_PAGE_SIZE;
use crate::records::{
    Actor, ChangelogQuery, GetOptions, ListQuery, Record, RecordInput, RecordService,
};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_records, create_record))
        .routes(routes!(
            get_record,
            update_record,
            replace_record,
            delete_record
        ))
        .routes(routes!(restore_record))
        .routes(routes!(purge_record))
        .routes(routes!(record_versions))
        .routes(routes!(record_history))
        .routes(routes!(record_changelog))
        .routes(routes!(bulk_delete))
        .routes(routes!(bulk_restore))
        .routes(routes!(list_trash))
        .routes(routes!(empty_trash))
        .routes(routes!(list_references))
        .routes(routes!(linked_records))
        .routes(routes!(reference_picker))
}

#[utoipa::path(get, path = "/v1/modules/{module}/records", tag = "records",
    summary = "List records with filtering, search, sorting and pagination",
    params(
        ModulePath,
        ("search" = Option<String>, Query, description = "Full-text search across indexed fields"),
        ("sortField" = Option<String>, Query, description = "Field slug to sort by"),
        ("sortDirection" = Option<String>, Query, description = "asc or desc"),
        ("labelIds" = Option<String>, Query, description = "Comma-separated label ids"),
        ("typeIds" = Option<String>, Query, description = "Comma-separated type ids"),
        ("filter[field]" = Option<String>, Query, description = "Filter by field value; a,b means either; several fields mean all"),
        ("advancedFilter" = Option<String>, Query, description = "JSON-encoded advanced filter"),
        ("page" = Option<u32>, Query, description = "Page number (starts at 1)"),
        ("pageSize" = Option<u32>, Query, description = "Results per page (default 25, at most 100; larger values are clamped)"),
        ("fields" = Option<String>, Query, description = "Comma-separated field slugs to return"),
        ("cursor" = Option<String>, Query, description = "Cursor pagination: nextCursor of the previous page"),
        ("limit" = Option<u32>, Query, description = "Cursor pagination: records per page"),
        ("includeCount" = Option<bool>, Query, description = "Cursor pagination: also count the matches"),
        ("expand" = Option<String>, Query, description = "Reference fields, comma-separated, whose records are embedded in place of their ids"),
    ),
    responses((status = 200, description = "{records, total, page, pageSize}", body = Object),
        (status = 400, description = "Invalid parameter", body = Object),
        (status = 404, description = "Module not found", body = Object)),
    security(("bearer" = ["records:read"])))]
async fn list_records(
    auth: Authorized<RecordsRead>,
    Path(ModulePath { module }): Path<ModulePath>,
    query: QueryParams,
) -> ApiResult<Json<Value>> {
    let query = ListQuery::from_params(query.pairs())?;
    let result = auth.records.list(&module, &query).await?;
    Ok(Json(json!(result)))
}

#[utoipa::path(post, path = "/v1/modules/{module}/records", tag = "records",
    summary = "Create a record",
    params(ModulePath),
    request_body(content = Object, description = "{displayName?, fields?, labelIds?, typeIds?, privacyLevel?, descriptionHtml?, externalId?}"),
    responses((status = 201, description = "{record}", body = Object),
        (status = 400, description = "Invalid field values", body = Object),
        (status = 409, description = "A unique value is taken", body = Object)),
    security(("bearer" = ["records:write"])))]
async fn create_record(
    auth: Authorized<RecordsWrite>,
    Path(ModulePath { module }): Path<ModulePath>,
    ApiJson(input): ApiJson<RecordInput>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let record = auth.records.create(&module, input, &auth.actor()).await?;
    Ok((StatusCode::CREATED, Json(json!({ "record": record }))))
}

#[utoipa::path(get, path = "/v1/modules/{module}/records/{id}", tag = "records",
    summary = "Get a record, or one of its past versions, with its references expanded and its history",
    params(RecordPath,
        ("version" = Option<i64>, Query, description = "The record as it was at this version"),
        ("expand" = Option<String>, Query, description = "Reference fields, comma-separated, whose records are embedded in place of their ids"),
        ("includeHistory" = Option<bool>, Query, description = "Also answer with the versions (spec 004's history)"),
        ("includeChangelog" = Option<bool>, Query, description = "Also answer with the changelog")),
    responses((status = 200, description = "{record, history?, changelog?}", body = Object),
        (status = 400, description = "Unknown parameter, or a field that cannot be expanded", body = Object),
        (status = 404, description = "Record not found", body = Object)),
    security(("bearer" = ["records:read"])))]
async fn get_record(
    auth: Authorized<RecordsRead>,
    Path(RecordPath { module, id }): Path<RecordPath>,
    query: QueryParams,
) -> ApiResult<Json<Value>> {
    let options = GetOptions::from_params(query.pairs())?;
    let view = auth.records.get_with(&module, &id, &options).await?;
    Ok(Json(json!(view)))
}

#[utoipa::path(patch, path = "/v1/modules/{module}/records/{id}", tag = "records",
    summary = "Update a record (only the keys given; a stale version is a 409 conflict)",
    params(RecordPath),
    request_body(content = Object, description = "{fields?, labelIds?, typeIds?, privacyLevel?, descriptionHtml?, version?, metadata?: {reason?, …} (kept with the version in the changelog)}"),
    responses((status = 200, description = "{record}", body = Object),
        (status = 400, description = "Invalid field values", body = Object),
        (status = 404, description = "Record not found", body = Object),
        (status = 409, description = "Version conflict", body = Object)),
    security(("bearer" = ["records:write"])))]
async fn update_record(
    auth: Authorized<RecordsWrite>,
    Path(path): Path<RecordPath>,
    ApiJson(input): ApiJson<RecordInput>,
) -> ApiResult<Json<Value>> {
    changed_record(auth, path, input, RecordService::update).await
}

#[utoipa::path(put, path = "/v1/modules/{module}/records/{id}", tag = "records",
    summary = "Replace a record: what the body leaves out is cleared (a stale version is a 409 conflict)",
    params(RecordPath),
    request_body(content = Object, description = "{fields (or data), displayName?, labelIds?, typeIds?, privacyLevel?, descriptionHtml?, externalId?, version?, metadata?: {reason?, …}}"),
    responses((status = 200, description = "{record}", body = Object),
        (status = 400, description = "Invalid field values", body = Object),
        (status = 404, description = "Record not found", body = Object),
        (status = 409, description = "Version conflict or a unique value taken", body = Object)),
    security(("bearer" = ["records:write"])))]
async fn replace_record(
    auth: Authorized<RecordsWrite>,
    Path(path): Path<RecordPath>,
    ApiJson(input): ApiJson<RecordInput>,
) -> ApiResult<Json<Value>> {
    changed_record(auth, path, input, RecordService::replace).await
}

/// A PATCH or PUT of one record: the record after `change`, as `{record}`.
async fn changed_record(
    auth: Authorized<RecordsWrite>,
    RecordPath { module, id }: RecordPath,
    input: RecordInput,
    change: impl AsyncFnOnce(&RecordService, &str, &str, RecordInput, &Actor) -> Result<Record>,
) -> ApiResult<Json<Value>> {
    let record = change(&auth.records, &module, &id, input, &auth.actor()).await?;
    Ok(Json(json!({ "record": record })))
}

#[utoipa::path(delete, path = "/v1/modules/{module}/records/{id}", tag = "records",
    summary = "Move a record to the trash",
    params(RecordPath),
    responses((status = 200, description = "{success: true}", body = Object),
        (status = 404, description = "Record not found", body = Object)),
    security(("bearer" = ["records:write"])))]
async fn delete_record(
    auth: Authorized<RecordsWrite>,
    Path(RecordPath { module, id }): Path<RecordPath>,
) -> ApiResult<Json<Value>> {
    auth.records.delete(&module, &id, &auth.actor()).await?;
    Ok(Json(json!({ "success": true })))
}

#[utoipa::path(post, path = "/v1/modules/{module}/records/{id}/restore", tag = "trash",
    summary = "Restore a record from the trash; with {version}, put a live record's values back as they were at that version (a new version)",
    params(RecordPath),
    request_body(content = Object, description = "Optional: {version, expectedVersion?} (spec 004)"),
    responses((status = 200, description = "{record}", body = Object),
        (status = 404, description = "Not in the trash, or no such version", body = Object),
        (status = 409, description = "A unique value was taken meanwhile, or expectedVersion is stale", body = Object)),
    security(("bearer" = ["records:write"])))]
async fn restore_record(
    auth: Authorized<RecordsWrite>,
    Path(RecordPath { module, id }): Path<RecordPath>,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    let actor = auth.actor();
    let record = match VersionRestore::from_body(&body)? {
        Some(VersionRestore {
            version,
            expected_version,
        }) => {
            let records = &auth.records;
            let restore = records.restore_version(&module, &id, version, expected_version, &actor);
            restore.await?
        }
        None => auth.records.restore(&module, &id, &actor).await?,
    };
    Ok(Json(json!({ "record": record })))
}

/// The body of a restore to a past version (spec 004); no body restores from the trash.
#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct VersionRestore {
    version: i64,
    /// The record's current version as the caller last saw it (optimistic locking).
    #[serde(default)]
    expected_version: Option<i64>,
}

impl VersionRestore {
    fn from_body(body: &[u8]) -> Result<Option<VersionRestore>, Error> {
        if body.iter().all(u8::is_ascii_whitespace) {
            return Ok(None);
        }
        serde_json::from_slice(body)
            .map(Some)
            .map_err(|e| Error::json("the restore body", e))
    }
}

#[utoipa::path(delete, path = "/v1/modules/{module}/records/{id}/purge", tag = "trash",
    summary = "Delete a trashed record for good",
    params(RecordPath),
    responses((status = 200, description = "{success: true}", body = Object),
        (status = 404, description = "Not in the trash", body = Object)),
    security(("bearer" = ["records:write"])))]
async fn purge_record(
    auth: Authorized<RecordsWrite>,
    Path(RecordPath { module, id }): Path<RecordPath>,
) -> ApiResult<Json<Value>> {
    auth.records.purge(&module, &id).await?;
    Ok(Json(json!({ "success": true })))
}

#[utoipa::path(get, path = "/v1/modules/{module}/records/{id}/versions", tag = "records",
    summary = "A record's versions, newest first, with their changes",
    params(RecordPath),
    responses((status = 200, description = "{versions}", body = Object),
        (status = 404, description = "Record not found", body = Object)),
    security(("bearer" = ["records:read"])))]
async fn record_versions(
    auth: Authorized<RecordsRead>,
    Path(RecordPath { module, id }): Path<RecordPath>,
) -> ApiResult<Json<Value>> {
    let versions = auth.records.history(&module, &id).await?;
    Ok(Json(json!({ "versions": versions })))
}

#[utoipa::path(get, path = "/v1/modules/{module}/records/{id}/history", tag = "records",
    summary = "A record's versions in spec 004's shape, newest first: the values it had and what changed",
    params(RecordPath),
    responses((status = 200, description = "{versions: [{version, data, updatedAt | createdAt, updatedBy, changes}]}", body = Object),
        (status = 404, description = "Record not found", body = Object)),
    security(("bearer" = ["records:read"])))]
async fn record_history(
    auth: Authorized<RecordsRead>,
    Path(RecordPath { module, id }): Path<RecordPath>,
) -> ApiResult<Json<Value>> {
    let versions = auth.records.history_versions(&module, &id).await?;
    Ok(Json(json!({ "versions": versions })))
}

#[utoipa::path(get, path = "/v1/modules/{module}/records/{id}/changelog", tag = "records",
    summary = "Who changed what and when, newest first (spec 004)",
    params(RecordPath,
        ("limit" = Option<u32>, Query, description = "At most this many entries (default 50, at most 1,000)"),
        ("startDate" = Option<String>, Query, description = "From this date (2024-01-15) or time (RFC 3339), inclusive"),
        ("endDate" = Option<String>, Query, description = "Up to this date or time, inclusive")),
    responses((status = 200, description = "{entries: [{id, recordId, action, userId, userName, timestamp, changes, metadata}]}", body = Object),
        (status = 400, description = "Invalid parameter", body = Object),
        (status = 404, description = "Record not found", body = Object)),
    security(("bearer" = ["records:read"])))]
async fn record_changelog(
    auth: Authorized<RecordsRead>,
    Path(RecordPath { module, id }): Path<RecordPath>,
    query: QueryParams,
) -> ApiResult<Json<Value>> {
    let query = ChangelogQuery::from_params(query.pairs())?;
    let entries = auth.records.changelog(&module, &id, &query).await?;
    Ok(Json(json!({ "entries": entries })))
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(super) struct RecordIds {
    pub(super) record_ids: Vec<String>,
}

#[utoipa::path(post, path = "/v1/modules/{module}/records/bulk-delete", tag = "records",
    summary = "Move up to 100 records to the trash",
    params(ModulePath),
    request_body(content = Object, description = "{recordIds}"),
    responses((status = 200, description = "{deleted, skipped}", body = Object),
        (status = 400, description = "Invalid request", body = Object)),
    security(("bearer" = ["records:write"])))]
async fn bulk_delete(
    auth: Authorized<RecordsWrite>,
    Path(ModulePath { module }): Path<ModulePath>,
    ApiJson(request): ApiJson<RecordIds>,
) -> ApiResult<Json<Value>> {
    moved_records(auth, &module, request, RecordService::bulk_delete).await
}

#[utoipa::path(post, path = "/v1/modules/{module}/records/bulk-restore", tag = "trash",
    summary = "Restore up to 100 trashed records",
    params(ModulePath),
    request_body(content = Object, description = "{recordIds}"),
    responses((status = 200, description = "{restored, skipped}", body = Object),
        (status = 400, description = "Invalid request", body = Object)),
    security(("bearer" = ["records:write"])))]
async fn bulk_restore(
    auth: Authorized<RecordsWrite>,
    Path(ModulePath { module }): Path<ModulePath>,
    ApiJson(request): ApiJson<RecordIds>,
) -> ApiResult<Json<Value>> {
    moved_records(auth, &module, request, RecordService::bulk_restore).await
}

/// A bulk move of records into or out of the trash: what `move_records` says it did.
pub(super) async fn moved_records<Outcome: Serialize>(
    auth: Authorized<RecordsWrite>,
    module: &str,
    RecordIds { record_ids }: RecordIds,
    move_records: impl AsyncFnOnce(&RecordService, &str, &[String], &Actor) -> Result<Outcome>,
) -> ApiResult<Json<Value>> {
    let outcome = move_records(&auth.records, module, &record_ids, &auth.actor()).await?;
    Ok(Json(json!(outcome)))
}

#[utoipa::path(get, path = "/v1/modules/{module}/records/trash", tag = "trash",
    summary = "List trashed records, most recently deleted first",
    params(ModulePath,
        ("page" = Option<u32>, Query, description = "Page number (starts at 1)"),
        ("pageSize" = Option<u32>, Query, description = "Results per page (default 25, at most 100)")),
    responses((status = 200, description = "{records, total, page, pageSize}", body = Object)),
    security(("bearer" = ["records:read"])))]
async fn list_trash(
    auth: Authorized<RecordsRead>,
    Path(ModulePath { module }): Path<ModulePath>,
    query: QueryParams,
) -> ApiResult<Json<Value>> {
    let page = query.count("page", 1, u32::MAX)?.unwrap_or(1);
    let page_size = query
        .count("pageSize", 1, u32::MAX)?
        .unwrap_or(DEFAULT_PAGE_SIZE);
    let result = auth.records.list_trash(&module, page, page_size).await?;
    Ok(Json(json!(result)))
}

#[utoipa::path(post, path = "/v1/modules/{module}/records/empty-trash", tag = "trash",
    summary = "Delete every trashed record of the module for good",
    params(ModulePath),
    responses((status = 200, description = "{success: true, purged}", body = Object)),
    security(("bearer" = ["records:write"])))]
async fn empty_trash(
    auth: Authorized<RecordsWrite>,
    Path(ModulePath { module }): Path<ModulePath>,
) -> ApiResult<Json<Value>> {
    let purged = auth.records.empty_trash(&module).await?;
    Ok(Json(json!({ "success": true, "purged": purged })))
}

#[utoipa::path(get, path = "/v1/modules/{module}/references", tag = "references",
    summary = "The reference fields of a module",
    params(ModulePath),
    responses((status = 200, description = "{references}", body = Object)),
    security(("bearer" = ["records:read"])))]
async fn list_references(
    auth: Authorized<RecordsRead>,
    Path(ModulePath { module }): Path<ModulePath>,
) -> ApiResult<Json<Value>> {
    let references = auth.records.references(&module).await?;
    Ok(Json(json!({ "references": references })))
}

#[utoipa::path(get, path = "/v1/modules/{module}/references/{referenceSlug}/records/{recordId}",
    tag = "references",
    summary = "The records a record links to through a reference field",
    params(LinkedRecordsPath),
    responses((status = 200, description = "{recordIds, records}", body = Object),
        (status = 404, description = "Record not found", body = Object)),
    security(("bearer" = ["records:read"])))]
async fn linked_records(
    auth: Authorized<RecordsRead>,
    Path(LinkedRecordsPath {
        module,
        reference_slug: reference,
        record_id: id,
    }): Path<LinkedRecordsPath>,
) -> ApiResult<Json<Value>> {
    let records = auth
        .records
        .linked_records(&module, &reference, &id)
        .await?;
    let ids: Vec<&str> = records.iter().map(|r| r.id.as_str()).collect();
    Ok(Json(json!({ "recordIds": ids, "records": records })))
}

#[utoipa::path(get, path = "/v1/modules/{module}/references/{referenceSlug}/picker",
    tag = "references",
    summary = "Records of the reference's target module to link to, by name",
    params(ReferencePath,
        ("search" = Option<String>, Query, description = "Words of the name"),
        ("limit" = Option<u32>, Query, description = "At most this many (default 10, at most 50)")),
    responses((status = 200, description = "{records: [{id, label, subtitle}]}", body = Object),
        (status = 400, description = "Not a reference field", body = Object)),
    security(("bearer" = ["records:read"])))]
async fn reference_picker(
    auth: Authorized<RecordsRead>,
    Path(ReferencePath {
        module,
        reference_slug: reference,
    }): Path<ReferencePath>,
    query: QueryParams,
) -> ApiResult<Json<Value>> {
    let records = auth
        .records
        .reference_picker(
            &module,
            &reference,
            query.text("search"),
            query.count("limit", 1, u32::MAX)?,
        )
        .await?;
    Ok(Json(json!({ "records": records })))
}
