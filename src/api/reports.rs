//! Saved reports over HTTP: create, list, get, delete, and spec 002's
//! `POST /reports/{reportId}/export` (delivered like a module export: the file, or a job).
//! Reading reports needs `exports:read`; saving, deleting and exporting them `exports:write`.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use serde_json::{Value, json};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::auth::{Authorized, ExportsRead, ExportsWrite};
use super::error::{ApiJson, ApiResult};
use super::exports::{export_response, job_requested};
use super::params::{PublicBase, QueryParams, ReportPath};
use crate::export::{ExportConfig, ExportFormat};
use crate::reports::{self, NewReport};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_report, list_reports))
        .routes(routes!(get_report, delete_report))
        .routes(routes!(export_report))
}

#[utoipa::path(post, path = "/v1/reports", tag = "reports",
    summary = "Save a report: a module with a filter, a sort and columns",
    request_body(content = Object, description = "{name, module, config: {columns?, columnLabels?, filter?, advancedFilter?, search?, labelIds?, typeIds?, sortField?, sortDirection?, title?, description?, dateFormat?, limit?}}"),
    responses((status = 201, description = "{report}", body = Object),
        (status = 400, description = "Invalid report (unknown column, field or sort)", body = Object),
        (status = 404, description = "Module not found", body = Object)),
    security(("bearer" = ["exports:write"])))]
async fn create_report(
    auth: Authorized<ExportsWrite>,
    State(state): State<AppState>,
    ApiJson(new): ApiJson<NewReport>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let report = reports::create(state.service.store(), &new, Some(&auth.key.id)).await?;
    Ok((StatusCode::CREATED, Json(json!({ "report": report }))))
}

#[utoipa::path(get, path = "/v1/reports", tag = "reports",
    summary = "Saved reports, newest first",
    params(("limit" = Option<u32>, Query, description = "At most this many (1-100, default 50)")),
    responses((status = 200, description = "{reports}", body = Object)),
    security(("bearer" = ["exports:read"])))]
async fn list_reports(
    _auth: Authorized<ExportsRead>,
    State(state): State<AppState>,
    query: QueryParams,
) -> ApiResult<Json<Value>> {
    let limit = query.count("limit", 1, 100)?.unwrap_or(50);
    let reports = reports::list(state.service.store(), limit).await?;
    Ok(Json(json!({ "reports": reports })))
}

#[utoipa::path(get, path = "/v1/reports/{reportId}", tag = "reports",
    summary = "A saved report",
    params(ReportPath),
    responses((status = 200, description = "{report}", body = Object),
        (status = 404, description = "Report not found", body = Object)),
    security(("bearer" = ["exports:read"])))]
async fn get_report(
    _auth: Authorized<ExportsRead>,
    State(state): State<AppState>,
    Path(ReportPath { report_id: id }): Path<ReportPath>,
) -> ApiResult<Json<Value>> {
    let report = reports::get(state.service.store(), &id).await?;
    Ok(Json(json!({ "report": report })))
}

#[utoipa::path(delete, path = "/v1/reports/{reportId}", tag = "reports",
    summary = "Delete a saved report",
    params(ReportPath),
    responses((status = 200, description = "{success: true}", body = Object),
        (status = 404, description = "Report not found", body = Object)),
    security(("bearer" = ["exports:write"])))]
async fn delete_report(
    _auth: Authorized<ExportsWrite>,
    State(state): State<AppState>,
    Path(ReportPath { report_id: id }): Path<ReportPath>,
) -> ApiResult<Json<Value>> {
    reports::delete(state.service.store(), &id).await?;
    Ok(Json(json!({ "success": true })))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ReportExportBody {
    format: ExportFormat,
    #[serde(default)]
    config: ExportConfig,
}

#[utoipa::path(post, path = "/v1/reports/{reportId}/export", tag = "reports",
    summary = "Export a saved report's records",
    description = "The report's module, filter, sort and columns; settings in `config` take \
        precedence. Delivered like a module export: the file up to 10,000 records, a 202 \
        export job above that or with `?job=true`.",
    params(ReportPath,
        ("job" = Option<bool>, Query, description = "Make an export job even for a small export")),
    request_body(content = Object, description = "{format: csv|pdf|parquet, config?: {title?, description?, …}}"),
    responses((status = 200, description = "The file", content_type = "application/octet-stream"),
        (status = 202, description = "An export job", body = Object),
        (status = 404, description = "Report not found", body = Object)),
    security(("bearer" = ["exports:write"])))]
async fn export_report(
    auth: Authorized<ExportsWrite>,
    State(state): State<AppState>,
    Path(ReportPath { report_id: id }): Path<ReportPath>,
    query: QueryParams,
    base: PublicBase,
    ApiJson(body): ApiJson<ReportExportBody>,
) -> ApiResult<Response> {
    let report = reports::get(state.service.store(), &id).await?;
    let request = report.export_request(body.format, body.config);
    export_response(
        &state,
        &report.module_slug,
        request,
        job_requested(&query),
        &auth.key,
        &base,
    )
    .await
}
