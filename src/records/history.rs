//! Version history. Creation is version 1; every later change stores one row with the changed
//! values (old/new). A past version is rebuilt from the current record by undoing the newer
//! changes, newest first, so no full copy of a record is ever stored.

use serde::Serialize;
use serde_json::{Map, Value};

use crate::error::{Error, Result};
use crate::records::model::{Record, parse_stored_json};
use crate::store::{Sql, Tx, format_micros};

/// One version of a record (spec 003's history entry).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct VersionEntry {
    pub version: i64,
    /// create, update, delete or restore.
    pub action: String,
    pub changed_date_time: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_display_name: Option<String>,
    /// `{name: {"old", "new"}}`; empty for create, delete and restore.
    pub changes: Map<String, Value>,
    /// What was said of the change (spec 004's `metadata`: a `reason`, an import's `source`
    /// and `jobId`).
    #[serde(skip_serializing_if = "Map::is_empty")]
    pub metadata: Map<String, Value>,
    /// The field values the record had at this version.
    pub fields: Map<String, Value>,
    /// The import job that made this version, if one did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub import_job_id: Option<String>,
}

struct VersionRow {
    version: i64,
    action: String,
    changes: Map<String, Value>,
    changed_at: i64,
    user_id: Option<String>,
    user_display_name: Option<String>,
    job_id: Option<String>,
    metadata: Map<String, Value>,
}

async fn version_rows(tx: &mut Tx, record_id: &str) -> Result<Vec<VersionRow>> {
    let dialect = tx.dialect();
    let mut sql = Sql::new(format!(
        "SELECT version, action, {} AS changes, changed_at, user_id, user_display_name, job_id, \
         {} AS metadata FROM record_versions WHERE record_id = ",
        dialect.json_column("changes"),
        dialect.json_column("metadata"),
    ));
    sql.bind(record_id).push(" ORDER BY version DESC");
    let rows = tx.fetch_all(sql).await?;
    rows.iter()
        .map(|row| {
            Ok(VersionRow {
                version: row.int("version")?,
                action: row.text("action")?,
                changes: parse_stored_json(&row.text("changes")?)?,
                changed_at: row.int("changed_at")?,
                user_id: row.opt_text("user_id")?,
                user_display_name: row.opt_text("user_display_name")?,
                job_id: row.opt_text("job_id")?,
                metadata: match row.opt_text("metadata")? {
                    Some(text) => parse_stored_json(&text)?,
                    None => Map::new(),
                },
            })
        })
        .collect()
}

/// Puts the `old` side of each change back into `record`.
fn undo(record: &mut Record, changes: &Map<String, Value>) {
    for (name, change) in changes {
        set_named(
            record,
            name,
            change.get("old").cloned().unwrap_or(Value::Null),
        );
    }
}

/// Sets the value a change names `name` (a column such as `displayName`, else a field slug;
/// `null` clears it), as version rows and ledger before-images name them.
pub(crate) fn set_named(record: &mut Record, name: &str, value: Value) {
    let as_ids =
        |v: &Value| -> Vec<String> { serde_json::from_value(v.clone()).unwrap_or_default() };
    let as_text = |v: &Value| v.as_str().map(str::to_string);
    match name {
        "displayName" => record.display_name = as_text(&value).unwrap_or_default(),
        "labelIds" => record.label_ids = as_ids(&value),
        "typeIds" => record.type_ids = as_ids(&value),
        "privacyLevel" => record.privacy_level = as_text(&value).unwrap_or_default(),
        "descriptionHtml" => record.description_html = as_text(&value),
        "externalId" => record.external_id = as_text(&value),
        "ownerId" => record.owner_id = as_text(&value),
        slug => {
            if value.is_null() {
                record.fields.remove(slug);
            } else {
                record.fields.insert(slug.to_string(), value);
            }
        }
    }
}

pub(crate) async fn history(tx: &mut Tx, current: &Record) -> Result<Vec<VersionEntry>> {
    let rows = version_rows(tx, &current.id).await?;
    let mut state = current.clone();
    let mut entries = Vec::with_capacity(rows.len() + 1);
    for row in rows {
        entries.push(VersionEntry {
            version: row.version,
            action: row.action,
            changed_date_time: format_micros(row.changed_at),
            user_id: row.user_id,
            user_display_name: row.user_display_name,
            fields: state.fields.clone(),
            changes: row.changes.clone(),
            import_job_id: row.job_id,
            metadata: row.metadata,
        });
        undo(&mut state, &row.changes);
    }
    let creating_job = current
        .imported_by
        .as_ref()
        .and_then(|p| p.created_by_job.clone());
    entries.push(VersionEntry {
        version: 1,
        action: "create".to_string(),
        changed_date_time: current.created_date_time.clone(),
        user_id: current.created_by_user_id.clone(),
        user_display_name: current.created_by_display_name.clone(),
        changes: Map::new(),
        fields: state.fields,
        // Version 1 is the record itself: its creating job is the record's provenance, and
        // says so as an import's later versions do.
        metadata: creating_job
            .as_deref()
            .map(crate::webhooks::outbox::import_source)
            .unwrap_or_default(),
        import_job_id: creating_job,
    });
    Ok(entries)
}

pub(crate) async fn at_version(tx: &mut Tx, current: &Record, version: i64) -> Result<Record> {
    if version < 1 || version > current.version {
        return Err(Error::not_found(
            "record version",
            format!("{}@{version}", current.id),
        ));
    }
    let rows = version_rows(tx, &current.id).await?;
    let mut state = current.clone();
    for row in rows.iter().filter(|r| r.version > version) {
        undo(&mut state, &row.changes);
    }
    state.version = version;
    match rows.iter().find(|r| r.version == version) {
        Some(row) => {
            state.updated_date_time = format_micros(row.changed_at);
            state.updated_by_user_id = row.user_id.clone();
            state.updated_by_display_name = row.user_display_name.clone();
        }
        None => {
            state.updated_date_time = current.created_date_time.clone();
            state.updated_by_user_id = current.created_by_user_id.clone();
            state.updated_by_display_name = current.created_by_display_name.clone();
        }
    }
    // Deletion state at that version: trashed if the latest delete/restore up to it was a delete.
    state.deleted_date_time = rows
        .iter()
        .filter(|r| r.version <= version && (r.action == "delete" || r.action == "restore"))
        .max_by_key(|r| r.version)
        .filter(|r| r.action == "delete")
        .map(|r| format_micros(r.changed_at));
    Ok(state)
}
