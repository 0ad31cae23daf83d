//! The Records endpoints integrations sync with (specs 001, 003, 004): many records per request
//! (create, update fields, trash), upsert by external id, lookup and upsert by a matching field.
//! Each is one library call on [`crate::records::RecordService`].

use axum::Json;
use axum::extract::Path;
use axum::http::StatusCode;
use serde_json::{Map, Value, json};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::auth::{Authorized, RecordsRead, RecordsWrite};
use super::error::{ApiJson, ApiResult};
use super::params::{ExternalIdPath, ModulePath, QueryParams};
use super::records::{RecordIds, moved_records};
use crate::error::Error;
use crate::records::{
    BulkCreate, BulkPatch, BulkUpdate, MatchUpsert, Record, RecordInput, RecordService,
};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(bulk_create, bulk_update_fields, bulk_trash))
        .routes(routes!(upsert_by_external_id))
        .routes(routes!(lookup))
        .routes(routes!(upsert_by_match))
}

/// A record written by an upsert: 201 when it was created, 200 when it was updated.
fn upserted((record, created): (Record, bool)) -> (StatusCode, Json<Value>) {
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    (
        status,
        Json(json!({ "record": record, "created": created })),
    )
}

#[utoipa::path(post, path = "/v1/modules/{module}/records/bulk", tag = "records",
    summary = "Create up to 1,000 records in one transaction (spec 004: {records}), or add and remove labels and types on up to 100 records (spec 000: {recordIds, …})",
    params(ModulePath),
    request_body(content = Object, description = "{records: [{fields (or data), …}], options?: {returnRecords?}} or {recordIds, addLabelIds?, removeLabelIds?, addTypeIds?, removeTypeIds?}"),
    responses((status = 201, description = "{created, records} (records unless options.returnRecords is false)", body = Object),
        (status = 200, description = "{records}: the labels and types after a spec 000 bulk update", body = Object),
        (status = 400, description = "Invalid request; every bad element named (records[3].email)", body = Object),
        (status = 404, description = "A record was not found", body = Object)),
    security(("bearer" = ["records:write"])))]
async fn bulk_create(
    auth: Authorized<RecordsWrite>,
    Path(ModulePath { module }): Path<ModulePath>,
    ApiJson(body): ApiJson<Map<String, Value>>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    if !body.contains_key("records") {
        let request: BulkUpdate = serde_json::from_value(Value::Object(body))
            .map_err(|e| Error::json("the bulk update", e))?;
        let records = auth
            .records
            .bulk_update(&module, &request, &auth.actor())
            .await?;
        return Ok((StatusCode::OK, Json(json!({ "records": records }))));
    }
    let request = BulkCreate::from_json(Value::Object(body))?;
    let records = auth
        .records
        .bulk_create(&module, request.records, &auth.actor())
        .await?;
    let mut out = json!({ "created": records.len() });
    if request.return_records {
        out["records"] = json!(records);
    } else {
        out["ids"] = json!(records.iter().map(|r| &r.id).collect::<Vec<_>>());
    }
    Ok((StatusCode::CREATED, Json(out)))
}

#[utoipa::path(patch, path = "/v1/modules/{module}/records/bulk", tag = "records",
    summary = "Update fields of up to 1,000 records in one transaction (each with its own version, when given)",
    params(ModulePath),
    request_body(content = Object, description = "{updates: [{id, fields (or data), version?, metadata?: {reason?, …}, …}]}"),
    responses((status = 200, description = "{records}", body = Object),
        (status = 400, description = "Invalid request; every bad element named (updates[0].version)", body = Object)),
    security(("bearer" = ["records:write"])))]
async fn bulk_update_fields(
    auth: Authorized<RecordsWrite>,
    Path(ModulePath { module }): Path<ModulePath>,
    ApiJson(body): ApiJson<Value>,
) -> ApiResult<Json<Value>> {
    let request = BulkPatch::from_json(body)?;
    let records = auth
        .records
        .bulk_patch(&module, request, &auth.actor())
        .await?;
    Ok(Json(json!({ "records": records })))
}

#[utoipa::path(delete, path = "/v1/modules/{module}/records/bulk", tag = "records",
    summary = "Move up to 100 records to the trash (as POST …/records/bulk-delete)",
    params(ModulePath),
    request_body(content = Object, description = "{recordIds}"),
    responses((status = 200, description = "{deleted, skipped}", body = Object)),
    security(("bearer" = ["records:write"])))]
async fn bulk_trash(
    auth: Authorized<RecordsWrite>,
    Path(ModulePath { module }): Path<ModulePath>,
    ApiJson(request): ApiJson<RecordIds>,
) -> ApiResult<Json<Value>> {
    moved_records(auth, &module, request, RecordService::bulk_delete).await
}

#[utoipa::path(post, path = "/v1/modules/{module}/upsert/{externalId}", tag = "records",
    summary = "Create (201) or update (200) the record with this external id (spec 003)",
    params(ExternalIdPath),
    request_body(content = Object, description = "A create/update body: {fields (or data), metadata?: {reason?, …}, …}"),
    responses((status = 201, description = "{record, created: true}", body = Object),
        (status = 200, description = "{record, created: false}", body = Object),
        (status = 400, description = "Invalid field values", body = Object)),
    security(("bearer" = ["records:write"])))]
async fn upsert_by_external_id(
    auth: Authorized<RecordsWrite>,
    Path(ExternalIdPath {
        module,
        external_id,
    }): Path<ExternalIdPath>,
    ApiJson(input): ApiJson<RecordInput>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let actor = auth.actor();
    let upsert = auth
        .records
        .upsert_by_external_id(&module, &external_id, input, &actor);
    Ok(upserted(upsert.await?))
}

#[utoipa::path(get, path = "/v1/modules/{module}/records/lookup", tag = "records",
    summary = "The one record whose field matches a value, normalised as imports match (spec 001): ?email=…, ?name=…, any field with a match key",
    params(ModulePath,
        ("field" = Option<String>, Query, description = "One parameter: a field with a match key and the value to find, e.g. email=ada@example.com; name matches the display name in modules without a name field")),
    responses((status = 200, description = "{record}", body = Object),
        (status = 400, description = "No or several parameters, or a field that cannot be looked up", body = Object),
        (status = 404, description = "No record matches", body = Object),
        (status = 409, description = "Several records match", body = Object)),
    security(("bearer" = ["records:read"])))]
async fn lookup(
    auth: Authorized<RecordsRead>,
    Path(ModulePath { module }): Path<ModulePath>,
    query: QueryParams,
) -> ApiResult<Json<Value>> {
    let pairs: Vec<(&str, &str)> = query.pairs().collect();
    let [(field, value)] = pairs.as_slice() else {
        return Err(Error::validation(format!(
            "a lookup takes exactly one parameter, the field and its value (e.g. ?email=ada@example.com); got {}",
            pairs.len()
        ))
        .into());
    };
    let record = auth.records.lookup(&module, field, value).await?;
    Ok(Json(json!({ "record": record })))
}

#[utoipa::path(post, path = "/v1/modules/{module}/records/upsert", tag = "records",
    summary = "Create (201) or update (200) the record whose matchField holds the body's value (spec 001); several matches are a 409",
    params(ModulePath),
    request_body(content = Object, description = "{matchField, fields (or data), metadata?: {reason?, …}, …}"),
    responses((status = 201, description = "{record, created: true}", body = Object),
        (status = 200, description = "{record, created: false}", body = Object),
        (status = 400, description = "Invalid request", body = Object),
        (status = 409, description = "Several records match, or a unique value is taken", body = Object)),
    security(("bearer" = ["records:write"])))]
async fn upsert_by_match(
    auth: Authorized<RecordsWrite>,
    Path(ModulePath { module }): Path<ModulePath>,
    ApiJson(body): ApiJson<Value>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let request = MatchUpsert::from_json(body)?;
    let actor = auth.actor();
    let upsert = auth.records.upsert_by_match(&module, request, &actor);
    Ok(upserted(upsert.await?))
}
