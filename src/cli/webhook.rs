//! `recordport webhook …`: create, list and delete webhooks; list a webhook's deliveries with
//! their attempts; redeliver one. Deliveries are made by `recordport worker` (or `serve`).

use clap::Subcommand;
use serde_json::json;

use super::{Output, examples, rows_table};
use crate::error::Result;
use crate::records::RecordService;
use crate::webhooks::{NewWebhook, subscriptions};

#[derive(Debug, Subcommand)]
pub enum WebhookCommand {
    /// Subscribe a URL to events; the signing secret is printed once.
    #[command(
        after_help = examples(&["webhook create --url https://hooks.example.com/crm --events record.created,record.updated"])
    )]
    Create {
        /// Where deliveries are POSTed (https://…).
        #[arg(long)]
        url: String,
        /// Comma-separated, e.g. record.created,record.bulk.created,import.completed.
        #[arg(long)]
        events: String,
        /// The signing secret (at least 16 characters); generated when absent.
        #[arg(long)]
        secret: Option<String>,
        /// Accept a URL that reaches loopback or private addresses.
        #[arg(long)]
        allow_private_webhooks: bool,
    },
    /// List the webhooks (never their secrets).
    #[command(after_help = examples(&["webhook list"]))]
    List,
    /// Delete a webhook; its pending deliveries are dropped.
    #[command(after_help = examples(&["webhook delete whk_0190c3b1-…"]))]
    Delete {
        /// The webhook's id (whk_…).
        id: String,
    },
    /// A webhook's deliveries, newest first, with every attempt.
    #[command(after_help = examples(&["webhook deliveries whk_0190c3b1-… --limit 10"]))]
    Deliveries {
        /// The webhook's id (whk_…).
        id: String,
        /// At most this many deliveries.
        #[arg(long, default_value_t = 50)]
        limit: u32,
    },
    /// Send a delivery's event again, as a new delivery due now.
    #[command(
        after_help = examples(&["webhook redeliver whk_0190c3b1-… dlv_0190c3b2-…"])
    )]
    Redeliver {
        /// The webhook's id (whk_…).
        id: String,
        /// The delivery to send again (from `webhook deliveries`).
        delivery_id: String,
    },
}

pub async fn run(service: &RecordService, cmd: WebhookCommand, out: &Output) -> Result<()> {
    let store = service.store();
    match cmd {
        WebhookCommand::Create {
            url,
            events,
            secret,
            allow_private_webhooks,
        } => {
            let new = NewWebhook {
                url,
                events: events
                    .split(',')
                    .map(str::trim)
                    .filter(|e| !e.is_empty())
                    .map(String::from)
                    .collect(),
                secret,
            };
            let member = service.access().member_id();
            let created =
                subscriptions::create(store, &new, allow_private_webhooks, None, member).await?;
            out.print(&json!({ "webhook": created }), || {
                format!(
                    "webhook {} → {}\nevents: {}\nsecret: {}\nThis is the only time the secret is shown.",
                    created.webhook.id,
                    created.webhook.url,
                    event_names(&created.webhook),
                    created.secret
                )
            })
        }
        WebhookCommand::List => {
            let webhooks = subscriptions::list(store).await?;
            out.print(&json!({ "webhooks": webhooks }), || {
                rows_table(&["id", "url", "events", "created"], &webhooks, |w| {
                    vec![
                        w.id.clone(),
                        w.url.clone(),
                        event_names(w),
                        w.created_date_time.clone(),
                    ]
                })
            })
        }
        WebhookCommand::Delete { id } => {
            subscriptions::delete(store, &id).await?;
            out.print(&json!({ "success": true, "id": id }), || {
                format!("deleted webhook {id}")
            })
        }
        WebhookCommand::Deliveries { id, limit } => {
            let deliveries = subscriptions::deliveries(store, &id, limit).await?;
            out.print(&json!({ "deliveries": deliveries }), || {
                rows_table(
                    &["id", "event", "status", "attempts", "last", "created"],
                    &deliveries,
                    |d| {
                        let last = match (&d.last_status_code, &d.last_error) {
                            (_, Some(error)) => error.clone(),
                            (Some(code), None) => format!("HTTP {code}"),
                            (None, None) => String::new(),
                        };
                        vec![
                            d.id.clone(),
                            d.event.clone(),
                            d.status.clone(),
                            d.attempts.to_string(),
                            last,
                            d.created_date_time.clone(),
                        ]
                    },
                )
            })
        }
        WebhookCommand::Redeliver { id, delivery_id } => {
            let delivery = subscriptions::redeliver(store, &id, &delivery_id).await?;
            out.print(&json!({ "delivery": delivery }), || {
                format!(
                    "delivery {} of {} queued (redelivers {delivery_id})",
                    delivery.id, delivery.event
                )
            })
        }
    }
}

fn event_names(webhook: &crate::webhooks::Webhook) -> String {
    webhook
        .events
        .iter()
        .map(|e| e.as_str())
        .collect::<Vec<_>>()
        .join(",")
}
