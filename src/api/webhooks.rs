//! Webhooks over HTTP (spec 004): `POST/GET /v1/webhooks`, `GET/DELETE /v1/webhooks/{id}`, the
//! delivery log `GET /v1/webhooks/{id}/deliveries` and
//! `POST /v1/webhooks/{id}/deliveries/{deliveryId}/redeliver`. Reading needs `webhooks:read`;
//! creating, deleting and redelivering `webhooks:write`.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde_json::{Value, json};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::auth::{Authorized, WebhooksRead, WebhooksWrite};
use super::error::{ApiJson, ApiResult};
use super::params::{DeliveryPath, QueryParams, WebhookPath};
use crate::webhooks::{NewWebhook, subscriptions};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_webhook, list_webhooks))
        .routes(routes!(get_webhook, delete_webhook))
        .routes(routes!(list_deliveries))
        .routes(routes!(redeliver))
}

#[utoipa::path(post, path = "/v1/webhooks", tag = "webhooks",
    summary = "Subscribe a URL to events",
    description = "Events: record.created, record.updated, record.deleted, record.restored, \
        record.bulk.created, record.bulk.updated, record.bulk.deleted, import.completed, \
        import.failed, export.completed. Each delivery is a POST of `{event, timestamp, data}` \
        signed with `X-Recordport-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, \
        \"<t>.<body>\")>`. A URL that resolves to a loopback, private, link-local or unspecified \
        address is refused unless the server runs with --allow-private-webhooks. The secret is \
        returned here only.",
    request_body = NewWebhook,
    responses((status = 201, description = "{webhook} with its secret", body = Object),
        (status = 400, description = "Invalid URL (or one that reaches a private address), unknown event, short secret", body = Object)),
    security(("bearer" = ["webhooks:write"])))]
async fn create_webhook(
    auth: Authorized<WebhooksWrite>,
    State(state): State<AppState>,
    ApiJson(new): ApiJson<NewWebhook>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let created = subscriptions::create(
        state.service.store(),
        &new,
        state.settings.allow_private_webhooks,
        Some(&auth.key.id),
        auth.key.member_id.as_deref(),
    )
    .await?;
    Ok((StatusCode::CREATED, Json(json!({ "webhook": created }))))
}

#[utoipa::path(get, path = "/v1/webhooks", tag = "webhooks",
    summary = "Every webhook, oldest first (secrets are never listed)",
    responses((status = 200, description = "{webhooks}", body = Object)),
    security(("bearer" = ["webhooks:read"])))]
async fn list_webhooks(
    _auth: Authorized<WebhooksRead>,
    State(state): State<AppState>,
) -> ApiResult<Json<Value>> {
    let webhooks = subscriptions::list(state.service.store()).await?;
    Ok(Json(json!({ "webhooks": webhooks })))
}

#[utoipa::path(get, path = "/v1/webhooks/{webhookId}", tag = "webhooks",
    summary = "A webhook",
    params(WebhookPath),
    responses((status = 200, description = "{webhook}", body = Object),
        (status = 404, description = "Webhook not found", body = Object)),
    security(("bearer" = ["webhooks:read"])))]
async fn get_webhook(
    _auth: Authorized<WebhooksRead>,
    State(state): State<AppState>,
    Path(WebhookPath { webhook_id }): Path<WebhookPath>,
) -> ApiResult<Json<Value>> {
    let webhook = subscriptions::get(state.service.store(), &webhook_id).await?;
    Ok(Json(json!({ "webhook": webhook })))
}

#[utoipa::path(delete, path = "/v1/webhooks/{webhookId}", tag = "webhooks",
    summary = "Delete a webhook; its pending deliveries are dropped",
    params(WebhookPath),
    responses((status = 200, description = "{success: true}", body = Object),
        (status = 404, description = "Webhook not found", body = Object)),
    security(("bearer" = ["webhooks:write"])))]
async fn delete_webhook(
    _auth: Authorized<WebhooksWrite>,
    State(state): State<AppState>,
    Path(WebhookPath { webhook_id }): Path<WebhookPath>,
) -> ApiResult<Json<Value>> {
    subscriptions::delete(state.service.store(), &webhook_id).await?;
    Ok(Json(json!({ "success": true })))
}

#[utoipa::path(get, path = "/v1/webhooks/{webhookId}/deliveries", tag = "webhooks",
    summary = "The webhook's deliveries, newest first, each with every attempt",
    params(WebhookPath,
        ("limit" = Option<u32>, Query, description = "At most this many (1-100, default 50)")),
    responses((status = 200, description = "{deliveries}", body = Object),
        (status = 404, description = "Webhook not found", body = Object)),
    security(("bearer" = ["webhooks:read"])))]
async fn list_deliveries(
    _auth: Authorized<WebhooksRead>,
    State(state): State<AppState>,
    Path(WebhookPath { webhook_id }): Path<WebhookPath>,
    query: QueryParams,
) -> ApiResult<Json<Value>> {
    let limit = query.count("limit", 1, 1000)?.unwrap_or(50);
    let deliveries = subscriptions::deliveries(state.service.store(), &webhook_id, limit).await?;
    Ok(Json(json!({ "deliveries": deliveries })))
}

#[utoipa::path(post, path = "/v1/webhooks/{webhookId}/deliveries/{deliveryId}/redeliver",
    tag = "webhooks",
    summary = "Send a delivery's event again, as a new delivery due now",
    params(DeliveryPath),
    responses((status = 202, description = "{delivery}: the new delivery", body = Object),
        (status = 404, description = "Webhook or delivery not found", body = Object)),
    security(("bearer" = ["webhooks:write"])))]
async fn redeliver(
    _auth: Authorized<WebhooksWrite>,
    State(state): State<AppState>,
    Path(DeliveryPath {
        webhook_id,
        delivery_id,
    }): Path<DeliveryPath>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let delivery =
        subscriptions::redeliver(state.service.store(), &webhook_id, &delivery_id).await?;
    Ok((StatusCode::ACCEPTED, Json(json!({ "delivery": delivery }))))
}
