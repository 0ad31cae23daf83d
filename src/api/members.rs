//! Spec 003's member record counts: how many records of each module a member owns, counted
//! over what the caller's key may see.

use axum::Json;
use serde_json::{Value, json};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::auth::{Authorized, RecordsRead};
use super::error::ApiResult;
use super::params::QueryParams;
use crate::error::Error;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(member_record_counts))
}

#[utoipa::path(get, path = "/v1/member-record-counts", tag = "records",
    summary = "How many records of each module a member owns (only records the caller may see)",
    params(("memberId" = String, Query, description = "The member whose records are counted")),
    responses((status = 200, description = "{counts: {moduleSlug: n}}", body = Object),
        (status = 400, description = "No memberId", body = Object)),
    security(("bearer" = ["records:read"])))]
async fn member_record_counts(
    auth: Authorized<RecordsRead>,
    query: QueryParams,
) -> ApiResult<Json<Value>> {
    let member = query
        .text("memberId")
        .ok_or_else(|| Error::invalid_field("memberId", "is required", None))?;
    let counts = auth.records.member_record_counts(member).await?;
    Ok(Json(json!({ "counts": counts })))
}
