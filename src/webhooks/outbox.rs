//! The transactional outbox: events are written inside the transaction of the change that
//! raised them.
//!
//! In: an open [`Tx`], an [`EventKind`] and the event's data (built only when someone listens).
//! Out: one `webhook_events` row with the body to send, and one pending `webhook_deliveries` row
//! per webhook subscribed to the event, in that transaction. Guarantees: the event commits or
//! rolls back with the change; an event nobody subscribes to costs one indexed lookup and writes
//! nothing; a body is built once per audience and every delivery sends exactly those bytes; a
//! webhook created for a member hears only of the records that member may see (privacy levels,
//! [`Access`]): of a record event only if it sees the record, of a bulk event only the ids it
//! sees, and nothing when it sees none of them; of a job only when the job is that member's.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use super::EventKind;
use crate::error::{Error, Result};
use crate::records::{Access, Actor, Record};
use crate::store::{Sql, Tx, format_micros, new_id, now_micros};

/// Where a change came from: `metadata.source` of spec 004's payload.
pub const SOURCE_API: &str = "api";
/// Changes made by an import job.
pub const SOURCE_IMPORT: &str = "import";

/// Writes `event` about a job run for `member` (None: the administrator) to the outbox, for the
/// administrator's webhooks and the member's own; `data` is called only when one subscribes.
pub async fn emit(
    tx: &mut Tx,
    event: EventKind,
    member: Option<&str>,
    data: impl FnOnce() -> Value,
) -> Result<()> {
    let webhooks: Vec<String> = subscribers(tx, event)
        .await?
        .into_iter()
        .filter(|(_, heard_by)| heard_by.is_none() || heard_by.as_deref() == member)
        .map(|(id, _)| id)
        .collect();
    if webhooks.is_empty() {
        return Ok(());
    }
    write_event(tx, event, data(), &webhooks).await
}

/// Writes `event` about the records `record_ids` to the outbox for the webhooks that may see
/// them: a webhook created for a member gets the event with the ids that member sees (`data` is
/// called with them), and none when it sees none.
pub async fn emit_about(
    tx: &mut Tx,
    event: EventKind,
    record_ids: &[&str],
    data: impl Fn(&[&str]) -> Value,
) -> Result<()> {
    let subscribers = subscribers(tx, event).await?;
    if subscribers.is_empty() || record_ids.is_empty() {
        return Ok(());
    }
    let mut by_member: BTreeMap<Option<String>, Vec<String>> = BTreeMap::new();
    for (webhook, member) in subscribers {
        by_member.entry(member).or_default().push(webhook);
    }
    // Webhooks that see the same ids share one event (and one body).
    let mut audiences: BTreeMap<Vec<&str>, Vec<String>> = BTreeMap::new();
    for (member, webhooks) in by_member {
        let seen = match member {
            None => record_ids.to_vec(),
            Some(member) => visible_ids(tx, &Access::Member(member), record_ids).await?,
        };
        if !seen.is_empty() {
            audiences.entry(seen).or_default().extend(webhooks);
        }
    }
    for (seen, webhooks) in audiences {
        write_event(tx, event, data(&seen), &webhooks).await?;
    }
    Ok(())
}

/// The webhooks subscribed to `event`, each with the member it was created for.
async fn subscribers(tx: &mut Tx, event: EventKind) -> Result<Vec<(String, Option<String>)>> {
    let mut sql = Sql::new(
        "SELECT s.webhook_id, w.member_id FROM webhook_subscriptions s \
         JOIN webhooks w ON w.id = s.webhook_id WHERE s.event = ",
    );
    sql.bind(event.as_str());
    tx.fetch_all(sql)
        .await?
        .iter()
        .map(|row| Ok((row.text("webhook_id")?, row.opt_text("member_id")?)))
        .collect()
}

/// Those of `ids` that `access` may see, in their order.
async fn visible_ids<'a>(tx: &mut Tx, access: &Access, ids: &[&'a str]) -> Result<Vec<&'a str>> {
    let seen = access.visible_ids(tx, ids).await?;
    Ok(ids
        .iter()
        .copied()
        .filter(|id| seen.contains(*id))
        .collect())
}

/// One event row with its body, and a pending delivery of it to each of `webhooks`.
async fn write_event(
    tx: &mut Tx,
    event: EventKind,
    data: Value,
    webhooks: &[String],
) -> Result<()> {
    let now = now_micros();
    let payload = json!({
        "event": event.as_str(),
        "timestamp": format_micros(now),
        "data": data,
    });
    let body = serde_json::to_string(&payload)
        .map_err(|e| Error::internal(format!("a webhook payload as JSON: {e}")))?;
    let event_id = new_id("evt");
    let mut sql = Sql::new("INSERT INTO webhook_events (id, event, payload, created_at) VALUES (");
    sql.bind(event_id.as_str())
        .push(", ")
        .bind(event.as_str())
        .push(", ")
        .bind(body)
        .push(", ")
        .bind(now)
        .push(")");
    tx.execute(sql).await?;
    for webhook_id in webhooks {
        let sql = insert_delivery(&new_id("dlv"), webhook_id, &event_id, event.as_str(), now);
        tx.execute(sql).await?;
    }
    Ok(())
}

/// Delivery `id`, pending: event `event_id` to `webhook_id`, due at `now`.
pub(super) fn insert_delivery(
    id: &str,
    webhook_id: &str,
    event_id: &str,
    event: &str,
    now: i64,
) -> Sql {
    let mut sql = Sql::new(
        "INSERT INTO webhook_deliveries (id, webhook_id, event_id, event, status, attempts, \
         next_attempt_at, created_at) VALUES (",
    );
    sql.bind(id)
        .push(", ")
        .bind(webhook_id)
        .push(", ")
        .bind(event_id)
        .push(", ")
        .bind(event)
        .push(", 'pending', 0, ")
        .bind(now)
        .push(", ")
        .bind(now)
        .push(")");
    sql
}

/// `metadata` of a payload: who made the change and through what, with what the actor said of
/// it (an update's `reason`).
pub fn metadata(actor: &Actor, source: &str) -> Value {
    let mut metadata = actor.metadata.clone();
    metadata.insert("userId".into(), json!(actor.user_id));
    metadata.entry("source").or_insert_with(|| json!(source));
    Value::Object(metadata)
}

/// A single-record event: the record after the change, the one before (updates, restores) and
/// the fields that changed (`{field: {old, new}}`).
pub async fn record_event(
    tx: &mut Tx,
    event: EventKind,
    record: &Record,
    previous: Option<&Record>,
    actor: &Actor,
) -> Result<()> {
    emit_about(tx, event, &[record.id.as_str()], |_| {
        let mut data = Map::new();
        data.insert("record".into(), json!(record));
        if let Some(previous) = previous {
            data.insert("previous".into(), json!(previous));
            data.insert(
                "changes".into(),
                Value::Object(changes(&previous.fields, &record.fields)),
            );
        }
        data.insert("metadata".into(), metadata(actor, SOURCE_API));
        Value::Object(data)
    })
    .await
}

/// A bulk event: the module and the ids of the records the operation (or import batch)
/// changed. Nothing is written for no ids.
pub async fn bulk_event<T: AsRef<str> + Sync>(
    tx: &mut Tx,
    event: EventKind,
    module_slug: &str,
    record_ids: &[T],
    metadata: Value,
) -> Result<()> {
    if record_ids.is_empty() {
        return Ok(());
    }
    let ids: Vec<&str> = record_ids.iter().map(AsRef::as_ref).collect();
    emit_about(tx, event, &ids, |seen| {
        json!({
            "moduleSlug": module_slug,
            "recordIds": seen,
            "count": seen.len(),
            "metadata": metadata,
        })
    })
    .await
}

/// A bulk event of the Records API (`metadata.source` is `api`).
pub async fn api_bulk_event<T: AsRef<str> + Sync>(
    tx: &mut Tx,
    event: EventKind,
    module_slug: &str,
    record_ids: &[T],
    actor: &Actor,
) -> Result<()> {
    let metadata = metadata(actor, SOURCE_API);
    bulk_event(tx, event, module_slug, record_ids, metadata).await
}

/// What an import says of the changes it makes: `source: "import"` and the job id.
pub fn import_source(job_id: &str) -> Map<String, Value> {
    let mut said = Map::new();
    said.insert("source".into(), json!(SOURCE_IMPORT));
    said.insert("jobId".into(), json!(job_id));
    said
}

/// `metadata` of an import's events: the job's user, `source: "import"` and the job id.
pub fn import_metadata(actor: &Actor, job_id: &str) -> Value {
    metadata(&actor.with_metadata(import_source(job_id)), SOURCE_IMPORT)
}

/// The fields whose values differ, as spec 004's `changes`: `{field: {old, new}}`.
fn changes(old: &Map<String, Value>, new: &Map<String, Value>) -> Map<String, Value> {
    let mut out = Map::new();
    for key in old.keys().chain(new.keys()) {
        let before = old.get(key).unwrap_or(&Value::Null);
        let after = new.get(key).unwrap_or(&Value::Null);
        if before != after && !out.contains_key(key) {
            out.insert(key.clone(), json!({ "old": before, "new": after }));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_name_each_changed_field_once_with_old_and_new() {
        let old = json!({"a": 1, "b": "x", "c": null});
        let new = json!({"a": 2, "b": "x", "d": true});
        let diff = changes(old.as_object().unwrap(), new.as_object().unwrap());
        assert_eq!(
            Value::Object(diff),
            json!({"a": {"old": 1, "new": 2}, "d": {"old": null, "new": true}})
        );
    }
}
