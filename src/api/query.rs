//! `POST /v1/query` (spec 004): a CQL query and its parameters in, a page of records (with their
//! included records) or of groups out; one library call, [`crate::records::RecordService::query`].

use axum::Json;
use serde_json::{Value, json};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::auth::{Authorized, RecordsRead};
use super::error::{ApiJson, ApiResult};
use crate::records::cql::QueryRequest;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(run_query))
}

#[utoipa::path(post, path = "/v1/query", tag = "records",
    summary = "Run a CQL query: FROM module WHERE … GROUP BY … SELECT … ORDER BY … LIMIT … OFFSET … INCLUDE …",
    request_body(content = Object, description = "{query: \"FROM contacts WHERE deal_value > :min ORDER BY deal_value DESC LIMIT 10\", parameters?: {min: 500}}"),
    responses((status = 200, description = "{results: [record with included?: {relation: [records]}], pagination: {limit, offset, total, hasMore}}, or with GROUP BY/aggregates {groups: [{key…, aggregate…}], pagination: {limit, offset, hasMore}}", body = Object),
        (status = 400, description = "The query does not parse or names what does not exist: validation_error with details {line, column}", body = Object)),
    security(("bearer" = ["records:read"])))]
async fn run_query(
    auth: Authorized<RecordsRead>,
    ApiJson(request): ApiJson<QueryRequest>,
) -> ApiResult<Json<Value>> {
    let output = auth
        .records
        .query(&request.query, &request.parameters)
        .await?;
    Ok(Json(json!(output)))
}
