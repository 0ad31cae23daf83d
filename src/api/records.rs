//! Spec 000's Records endpoints: list (every query parameter), get (or a past version), create,
//! update (409 on a stale `version`), delete, restore, bulk update/delete/restore, trash (list,
//! purge, empty), versions and references.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde_json::{Value, json};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::auth::{Authorized, RecordsRead, RecordsWrite};
use super::error::ApiJson;
use super::error::ApiResult;
use super::params::{LinkedRecordsPath, ModulePath, QueryParams, RecordPath, ReferencePath};
use crate::records::query::DEFAULT_PAGE_SIZE;
use crate::records::{BulkUpdate, ListQuery, RecordInput};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_records, create_record))
        .routes(routes!(get_record, update_record, delete_record))
        .routes(routes!(restore_record))
        .routes(routes!(purge_record))
        .routes(routes!(record_versions))
        .routes(routes!(bulk_update))
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
    ),
    responses((status = 200, description = "{records, total, page, pageSize}", body = Object),
        (status = 400, description = "Invalid parameter", body = Object),
        (status = 404, description = "Module not found", body = Object)),
    security(("bearer" = ["records:read"])))]
async fn list_records(
    _auth: Authorized<RecordsRead>,
    State(state): State<AppState>,
    Path(ModulePath { module }): Path<ModulePath>,
    query: QueryParams,
) -> ApiResult<Json<Value>> {
    let query = ListQuery::from_params(query.pairs())?;
    let result = state.service.list(&module, &query).await?;
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
    State(state): State<AppState>,
    Path(ModulePath { module }): Path<ModulePath>,
    ApiJson(input): ApiJson<RecordInput>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let record = state.service.create(&module, input, &auth.actor()).await?;
    Ok((StatusCode::CREATED, Json(json!({ "record": record }))))
}

#[utoipa::path(get, path = "/v1/modules/{module}/records/{id}", tag = "records",
    summary = "Get a record, or one of its past versions",
    params(RecordPath,
        ("version" = Option<i64>, Query, description = "The record as it was at this version")),
    responses((status = 200, description = "{record}", body = Object),
        (status = 404, description = "Record not found", body = Object)),
    security(("bearer" = ["records:read"])))]
async fn get_record(
    _auth: Authorized<RecordsRead>,
    State(state): State<AppState>,
    Path(RecordPath { module, id }): Path<RecordPath>,
    query: QueryParams,
) -> ApiResult<Json<Value>> {
    let record = match query.number::<i64>("version")? {
        Some(version) => state.service.get_version(&module, &id, version).await?,
        None => state.service.get(&module, &id).await?,
    };
    Ok(Json(json!({ "record": record })))
}

#[utoipa::path(patch, path = "/v1/modules/{module}/records/{id}", tag = "records",
    summary = "Update a record (only the keys given; a stale version is a 409 conflict)",
    params(RecordPath),
    request_body(content = Object, description = "{fields?, labelIds?, typeIds?, privacyLevel?, descriptionHtml?, version?}"),
    responses((status = 200, description = "{record}", body = Object),
        (status = 400, description = "Invalid field values", body = Object),
        (status = 404, description = "Record not found", body = Object),
        (status = 409, description = "Version conflict", body = Object)),
    security(("bearer" = ["records:write"])))]
async fn update_record(
    auth: Authorized<RecordsWrite>,
    State(state): State<AppState>,
    Path(RecordPath { module, id }): Path<RecordPath>,
    ApiJson(input): ApiJson<RecordInput>,
) -> ApiResult<Json<Value>> {
    let record = state
        .service
        .update(&module, &id, input, &auth.actor())
        .await?;
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
    State(state): State<AppState>,
    Path(RecordPath { module, id }): Path<RecordPath>,
) -> ApiResult<Json<Value>> {
    state.service.delete(&module, &id, &auth.actor()).await?;
    Ok(Json(json!({ "success": true })))
}

#[utoipa::path(post, path = "/v1/modules/{module}/records/{id}/restore", tag = "trash",
    summary = "Restore a record from the trash",
    params(RecordPath),
    responses((status = 200, description = "{record}", body = Object),
        (status = 404, description = "Not in the trash", body = Object),
        (status = 409, description = "A unique value was taken meanwhile", body = Object)),
    security(("bearer" = ["records:write"])))]
async fn restore_record(
    auth: Authorized<RecordsWrite>,
    State(state): State<AppState>,
    Path(RecordPath { module, id }): Path<RecordPath>,
) -> ApiResult<Json<Value>> {
    let record = state.service.restore(&module, &id, &auth.actor()).await?;
    Ok(Json(json!({ "record": record })))
}

#[utoipa::path(delete, path = "/v1/modules/{module}/records/{id}/purge", tag = "trash",
    summary = "Delete a trashed record for good",
    params(RecordPath),
    responses((status = 200, description = "{success: true}", body = Object),
        (status = 404, description = "Not in the trash", body = Object)),
    security(("bearer" = ["records:write"])))]
async fn purge_record(
    _auth: Authorized<RecordsWrite>,
    State(state): State<AppState>,
    Path(RecordPath { module, id }): Path<RecordPath>,
) -> ApiResult<Json<Value>> {
    state.service.purge(&module, &id).await?;
    Ok(Json(json!({ "success": true })))
}

#[utoipa::path(get, path = "/v1/modules/{module}/records/{id}/versions", tag = "records",
    summary = "A record's versions, newest first, with their changes",
    params(RecordPath),
    responses((status = 200, description = "{versions}", body = Object),
        (status = 404, description = "Record not found", body = Object)),
    security(("bearer" = ["records:read"])))]
async fn record_versions(
    _auth: Authorized<RecordsRead>,
    State(state): State<AppState>,
    Path(RecordPath { module, id }): Path<RecordPath>,
) -> ApiResult<Json<Value>> {
    let versions = state.service.history(&module, &id).await?;
    Ok(Json(json!({ "versions": versions })))
}

#[utoipa::path(post, path = "/v1/modules/{module}/records/bulk", tag = "records",
    summary = "Add and remove labels and types on up to 100 records",
    params(ModulePath),
    request_body(content = Object, description = "{recordIds, addLabelIds?, removeLabelIds?, addTypeIds?, removeTypeIds?}"),
    responses((status = 200, description = "{records}", body = Object),
        (status = 400, description = "Invalid request", body = Object),
        (status = 404, description = "A record was not found", body = Object)),
    security(("bearer" = ["records:write"])))]
async fn bulk_update(
    auth: Authorized<RecordsWrite>,
    State(state): State<AppState>,
    Path(ModulePath { module }): Path<ModulePath>,
    ApiJson(request): ApiJson<BulkUpdate>,
) -> ApiResult<Json<Value>> {
    let records = state
        .service
        .bulk_update(&module, &request, &auth.actor())
        .await?;
    Ok(Json(json!({ "records": records })))
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RecordIds {
    record_ids: Vec<String>,
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
    State(state): State<AppState>,
    Path(ModulePath { module }): Path<ModulePath>,
    ApiJson(RecordIds { record_ids: ids }): ApiJson<RecordIds>,
) -> ApiResult<Json<Value>> {
    let outcome = state
        .service
        .bulk_delete(&module, &ids, &auth.actor())
        .await?;
    Ok(Json(json!(outcome)))
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
    State(state): State<AppState>,
    Path(ModulePath { module }): Path<ModulePath>,
    ApiJson(RecordIds { record_ids: ids }): ApiJson<RecordIds>,
) -> ApiResult<Json<Value>> {
    let outcome = state
        .service
        .bulk_restore(&module, &ids, &auth.actor())
        .await?;
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
    _auth: Authorized<RecordsRead>,
    State(state): State<AppState>,
    Path(ModulePath { module }): Path<ModulePath>,
    query: QueryParams,
) -> ApiResult<Json<Value>> {
    let page = query.count("page", 1, u32::MAX)?.unwrap_or(1);
    let page_size = query
        .count("pageSize", 1, u32::MAX)?
        .unwrap_or(DEFAULT_PAGE_SIZE);
    let result = state.service.list_trash(&module, page, page_size).await?;
    Ok(Json(json!(result)))
}

#[utoipa::path(post, path = "/v1/modules/{module}/records/empty-trash", tag = "trash",
    summary = "Delete every trashed record of the module for good",
    params(ModulePath),
    responses((status = 200, description = "{success: true, purged}", body = Object)),
    security(("bearer" = ["records:write"])))]
async fn empty_trash(
    _auth: Authorized<RecordsWrite>,
    State(state): State<AppState>,
    Path(ModulePath { module }): Path<ModulePath>,
) -> ApiResult<Json<Value>> {
    let purged = state.service.empty_trash(&module).await?;
    Ok(Json(json!({ "success": true, "purged": purged })))
}

#[utoipa::path(get, path = "/v1/modules/{module}/references", tag = "references",
    summary = "The reference fields of a module",
    params(ModulePath),
    responses((status = 200, description = "{references}", body = Object)),
    security(("bearer" = ["records:read"])))]
async fn list_references(
    _auth: Authorized<RecordsRead>,
    State(state): State<AppState>,
    Path(ModulePath { module }): Path<ModulePath>,
) -> ApiResult<Json<Value>> {
    let references = state.service.references(&module).await?;
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
    _auth: Authorized<RecordsRead>,
    State(state): State<AppState>,
    Path(LinkedRecordsPath {
        module,
        reference_slug: reference,
        record_id: id,
    }): Path<LinkedRecordsPath>,
) -> ApiResult<Json<Value>> {
    let records = state
        .service
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
    _auth: Authorized<RecordsRead>,
    State(state): State<AppState>,
    Path(ReferencePath {
        module,
        reference_slug: reference,
    }): Path<ReferencePath>,
    query: QueryParams,
) -> ApiResult<Json<Value>> {
    let records = state
        .service
        .reference_picker(
            &module,
            &reference,
            query.text("search"),
            query.count("limit", 1, u32::MAX)?,
        )
        .await?;
    Ok(Json(json!({ "records": records })))
}
