//! Webhook subscriptions and their delivery log: create, list, get, delete; the deliveries of a
//! webhook with every attempt; redeliver one.
//!
//! In: `{url, events[], secret}` ([`NewWebhook`]). Out: [`Webhook`]s (the secret is shown once,
//! in the [`CreatedWebhook`] that [`create`] returns) and [`Delivery`]s. Guarantees: a webhook
//! names at least one known event and an http(s) URL that passed the SSRF guard; deleting a
//! webhook deletes its deliveries and stops them.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::EventKind;
use super::{guard, outbox};
use crate::error::{Error, Result};
use crate::store::{Row, Sql, Store, format_micros, new_id, now_micros};

/// Fewest characters of a secret given by the caller.
pub const MIN_SECRET_CHARS: usize = 16;
/// Most deliveries one listing returns.
pub const MAX_LISTED_DELIVERIES: u32 = 100;

/// The body of `POST /v1/webhooks`.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewWebhook {
    /// Where deliveries are posted (http or https).
    pub url: String,
    /// Event names, e.g. `record.created`, `record.bulk.created`, `import.completed`.
    pub events: Vec<String>,
    /// The signing secret (at least 16 characters); one is generated when absent.
    #[serde(default)]
    pub secret: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Webhook {
    pub id: String,
    pub url: String,
    #[schema(value_type = Vec<String>)]
    pub events: Vec<EventKind>,
    pub created_date_time: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created_by_key_id: Option<String>,
    /// The member whose key created the webhook: it hears only of records they may see.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub member_id: Option<String>,
}

/// A webhook just created, with its secret: the only time the secret is returned.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreatedWebhook {
    #[serde(flatten)]
    pub webhook: Webhook,
    pub secret: String,
}

/// One event sent (or being sent) to one webhook.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Delivery {
    pub id: String,
    pub webhook_id: String,
    pub event_id: String,
    pub event: String,
    /// `pending`, `delivered` or `failed`.
    pub status: String,
    pub attempts: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_attempt_date_time: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_status_code: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    pub created_date_time: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub completed_date_time: Option<String>,
    /// Every try, oldest first.
    pub attempt_log: Vec<DeliveryAttempt>,
    /// The body that is (or was) sent.
    #[schema(value_type = Object)]
    pub payload: Value,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeliveryAttempt {
    pub attempt: i64,
    pub date_time: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status_code: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub duration_ms: i64,
}

/// Creates a webhook for `member_id` (None: the administrator, who hears of every record). Its
/// URL must pass [`guard::check_url`] (unless `allow_private`).
pub async fn create(
    store: &Store,
    new: &NewWebhook,
    allow_private: bool,
    created_by_key_id: Option<&str>,
    member_id: Option<&str>,
) -> Result<CreatedWebhook> {
    // Cheap checks first: the URL's costs a DNS lookup.
    let events = parse_events(&new.events)?;
    let secret = match &new.secret {
        Some(secret) if secret.chars().count() < MIN_SECRET_CHARS => {
            return Err(Error::invalid_field(
                "secret",
                format!("must have at least {MIN_SECRET_CHARS} characters"),
                None,
            ));
        }
        Some(secret) => secret.clone(),
        None => {
            let random: [u8; 24] = rand::random();
            format!(
                "whsec_{}",
                random
                    .iter()
                    .map(|b| format!("{b:02x}"))
                    .collect::<String>()
            )
        }
    };
    let url = guard::check_url(&new.url, allow_private).await?;
    let id = new_id("whk");
    let now = now_micros();
    let mut tx = store.begin().await?;
    let mut sql = Sql::new(
        "INSERT INTO webhooks (id, url, secret, created_at, created_by_key_id, member_id) VALUES (",
    );
    sql.bind(id.as_str())
        .push(", ")
        .bind(url.as_str())
        .push(", ")
        .bind(secret.as_str())
        .push(", ")
        .bind(now)
        .push(", ")
        .bind(created_by_key_id.map(str::to_string))
        .push(", ")
        .bind(member_id.map(str::to_string))
        .push(")");
    tx.execute(sql).await?;
    for event in &events {
        let mut sql = Sql::new("INSERT INTO webhook_subscriptions (webhook_id, event) VALUES (");
        sql.bind(id.as_str())
            .push(", ")
            .bind(event.as_str())
            .push(")");
        tx.execute(sql).await?;
    }
    tx.commit().await?;
    Ok(CreatedWebhook {
        webhook: Webhook {
            id,
            url: url.to_string(),
            events,
            created_date_time: format_micros(now),
            created_by_key_id: created_by_key_id.map(str::to_string),
            member_id: member_id.map(str::to_string),
        },
        secret,
    })
}

/// The events of a request, each known, each once, in a stable order.
fn parse_events(names: &[String]) -> Result<Vec<EventKind>> {
    if names.is_empty() {
        return Err(Error::invalid_field(
            "events",
            "name at least one event",
            None,
        ));
    }
    let mut events = names
        .iter()
        .enumerate()
        .map(|(i, name)| EventKind::parse(name, &format!("events[{i}]")))
        .collect::<Result<Vec<_>>>()?;
    events.sort();
    events.dedup();
    Ok(events)
}

/// Every webhook, oldest first.
pub async fn list(store: &Store) -> Result<Vec<Webhook>> {
    let rows = store
        .fetch_all(Sql::new(
            "SELECT id, url, created_at, created_by_key_id, member_id FROM webhooks \
             ORDER BY created_at, id",
        ))
        .await?;
    let mut webhooks = Vec::with_capacity(rows.len());
    for row in &rows {
        webhooks.push(webhook_from_row(store, row).await?);
    }
    Ok(webhooks)
}

pub async fn get(store: &Store, id: &str) -> Result<Webhook> {
    let mut sql = Sql::new(
        "SELECT id, url, created_at, created_by_key_id, member_id FROM webhooks WHERE id = ",
    );
    sql.bind(id);
    match store.fetch_optional(sql).await? {
        Some(row) => webhook_from_row(store, &row).await,
        None => Err(Error::not_found("webhook", id)),
    }
}

async fn webhook_from_row(store: &Store, row: &Row) -> Result<Webhook> {
    let id = row.text("id")?;
    let mut sql = Sql::new("SELECT event FROM webhook_subscriptions WHERE webhook_id = ");
    sql.bind(id.as_str()).push(" ORDER BY event");
    let mut events = Vec::new();
    for event in store.fetch_all(sql).await? {
        let name = event.text("event")?;
        events.push(
            EventKind::parse(&name, "event")
                .map_err(|_| Error::corrupt(format!("webhook {id} subscribes to '{name}'")))?,
        );
    }
    events.sort();
    Ok(Webhook {
        url: row.text("url")?,
        events,
        created_date_time: format_micros(row.int("created_at")?),
        created_by_key_id: row.opt_text("created_by_key_id")?,
        member_id: row.opt_text("member_id")?,
        id,
    })
}

/// Deletes a webhook with its deliveries; deliveries not yet made are never made.
pub async fn delete(store: &Store, id: &str) -> Result<()> {
    let mut tx = store.begin().await?;
    let mut sql = Sql::new("DELETE FROM webhooks WHERE id = ");
    sql.bind(id);
    if tx.execute(sql).await? == 0 {
        return Err(Error::not_found("webhook", id));
    }
    tx.commit().await
}

const DELIVERY_COLUMNS: &str = "d.id, d.webhook_id, d.event_id, d.event, d.status, d.attempts, \
     d.next_attempt_at, d.last_status_code, d.last_error, d.created_at, d.completed_at, \
     e.payload FROM webhook_deliveries d JOIN webhook_events e ON e.id = d.event_id";

/// The deliveries of a webhook, newest first, at most `limit` (1 to 100), each with its attempts.
pub async fn deliveries(store: &Store, webhook_id: &str, limit: u32) -> Result<Vec<Delivery>> {
    get(store, webhook_id).await?;
    let mut sql = Sql::new(format!("SELECT {DELIVERY_COLUMNS} WHERE d.webhook_id = "));
    sql.bind(webhook_id)
        .push(" ORDER BY d.created_at DESC, d.id DESC LIMIT ")
        .bind(i64::from(limit.clamp(1, MAX_LISTED_DELIVERIES)));
    let rows = store.fetch_all(sql).await?;
    let mut out = Vec::with_capacity(rows.len());
    for row in &rows {
        out.push(delivery_from_row(store, row).await?);
    }
    Ok(out)
}

/// One delivery of a webhook.
pub async fn delivery(store: &Store, webhook_id: &str, delivery_id: &str) -> Result<Delivery> {
    let mut sql = Sql::new(format!("SELECT {DELIVERY_COLUMNS} WHERE d.id = "));
    sql.bind(delivery_id)
        .push(" AND d.webhook_id = ")
        .bind(webhook_id);
    match store.fetch_optional(sql).await? {
        Some(row) => delivery_from_row(store, &row).await,
        None => Err(Error::not_found("webhook delivery", delivery_id)),
    }
}

/// Sends a delivery's event again, as a new delivery due now (the old one keeps its log).
pub async fn redeliver(store: &Store, webhook_id: &str, delivery_id: &str) -> Result<Delivery> {
    let old = delivery(store, webhook_id, delivery_id).await?;
    let id = new_id("dlv");
    let now = now_micros();
    let sql = outbox::insert_delivery(&id, &old.webhook_id, &old.event_id, &old.event, now);
    store.execute(sql).await?;
    delivery(store, webhook_id, &id).await
}

async fn delivery_from_row(store: &Store, row: &Row) -> Result<Delivery> {
    let id = row.text("id")?;
    let status = row.text("status")?;
    let mut sql = Sql::new(
        "SELECT attempt, at, status_code, error, duration_ms FROM webhook_attempts WHERE \
         delivery_id = ",
    );
    sql.bind(id.as_str()).push(" ORDER BY attempt");
    let attempt_log = store
        .fetch_mapped(sql, |a| {
            Ok(DeliveryAttempt {
                attempt: a.int("attempt")?,
                date_time: format_micros(a.int("at")?),
                status_code: a.opt_int("status_code")?,
                error: a.opt_text("error")?,
                duration_ms: a.int("duration_ms")?,
            })
        })
        .await?;
    let payload = serde_json::from_str(&row.text("payload")?)
        .map_err(|e| Error::corrupt(format!("webhook event payload: {e}")))?;
    Ok(Delivery {
        webhook_id: row.text("webhook_id")?,
        event_id: row.text("event_id")?,
        event: row.text("event")?,
        next_attempt_date_time: (status == "pending")
            .then(|| row.int("next_attempt_at").map(format_micros))
            .transpose()?,
        status,
        attempts: row.int("attempts")?,
        last_status_code: row.opt_int("last_status_code")?,
        last_error: row.opt_text("last_error")?,
        created_date_time: format_micros(row.int("created_at")?),
        completed_date_time: row.opt_int("completed_at")?.map(format_micros),
        attempt_log,
        payload,
        id,
    })
}
