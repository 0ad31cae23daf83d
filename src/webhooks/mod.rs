//! Webhooks (spec 004, "Webhooks & Events"): subscriptions to record, import and export events,
//! a transactional outbox, and signed deliveries with retries.
//!
//! ```text
//! change's tx ──> outbox (event + one delivery per subscriber, same tx) ──commit──>
//! worker: claim due deliveries (lease) ──> guard (no private addresses) ──> sign ──> POST
//!         ──> attempt logged ──> delivered | retry later (exponential backoff) | failed
//! ```
//!
//! In: subscriptions ([`subscriptions`]), events from the services that change data
//! ([`outbox`]). Out: HTTP POSTs signed with [`signing`], made by [`dispatch`]. Guarantees: an
//! event exists exactly when the change that raised it committed (a rolled-back change sends
//! nothing, a crash after the commit loses nothing); a delivery is held by one worker at a time;
//! every try is logged; URLs that reach loopback, private, link-local or unspecified addresses
//! are refused at creation and again, after DNS resolution, at each delivery ([`guard`]) unless
//! private webhooks are allowed.

pub mod dispatch;
pub mod guard;
pub mod outbox;
pub mod signing;
pub mod subscriptions;

use serde::Serialize;

use crate::error::{Error, Result};

pub use dispatch::{DispatchOptions, Dispatcher};
pub use subscriptions::{CreatedWebhook, Delivery, DeliveryAttempt, NewWebhook, Webhook};

/// The events a webhook can subscribe to (spec 004, plus the import and export jobs').
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub enum EventKind {
    #[serde(rename = "record.created")]
    RecordCreated,
    #[serde(rename = "record.updated")]
    RecordUpdated,
    #[serde(rename = "record.deleted")]
    RecordDeleted,
    #[serde(rename = "record.restored")]
    RecordRestored,
    #[serde(rename = "record.bulk.created")]
    BulkCreated,
    #[serde(rename = "record.bulk.updated")]
    BulkUpdated,
    #[serde(rename = "record.bulk.deleted")]
    BulkDeleted,
    #[serde(rename = "import.completed")]
    ImportCompleted,
    #[serde(rename = "import.failed")]
    ImportFailed,
    #[serde(rename = "export.completed")]
    ExportCompleted,
}

impl EventKind {
    pub const ALL: [EventKind; 10] = [
        EventKind::RecordCreated,
        EventKind::RecordUpdated,
        EventKind::RecordDeleted,
        EventKind::RecordRestored,
        EventKind::BulkCreated,
        EventKind::BulkUpdated,
        EventKind::BulkDeleted,
        EventKind::ImportCompleted,
        EventKind::ImportFailed,
        EventKind::ExportCompleted,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::RecordCreated => "record.created",
            EventKind::RecordUpdated => "record.updated",
            EventKind::RecordDeleted => "record.deleted",
            EventKind::RecordRestored => "record.restored",
            EventKind::BulkCreated => "record.bulk.created",
            EventKind::BulkUpdated => "record.bulk.updated",
            EventKind::BulkDeleted => "record.bulk.deleted",
            EventKind::ImportCompleted => "import.completed",
            EventKind::ImportFailed => "import.failed",
            EventKind::ExportCompleted => "export.completed",
        }
    }

    /// Reads an event name; `field` names where it came from in the error.
    pub fn parse(text: &str, field: &str) -> Result<EventKind> {
        EventKind::ALL
            .into_iter()
            .find(|e| e.as_str() == text.trim())
            .ok_or_else(|| {
                Error::invalid_field(
                    field,
                    format!(
                        "unknown event '{text}': expected one of {}",
                        EventKind::ALL.map(EventKind::as_str).join(", ")
                    ),
                    Some(serde_json::Value::String(text.to_string())),
                )
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_names_round_trip_and_unknown_ones_are_named() {
        for kind in EventKind::ALL {
            assert_eq!(EventKind::parse(kind.as_str(), "events[0]").unwrap(), kind);
            assert_eq!(
                serde_json::to_value(kind).unwrap(),
                serde_json::json!(kind.as_str())
            );
        }
        let error = EventKind::parse("record.exploded", "events[1]").unwrap_err();
        assert!(error.to_string().contains("events[1]"), "{error}");
        assert!(error.to_string().contains("record.bulk.created"), "{error}");
    }
}
