//! Ledger: what rollback needs of a job's updates, written in the same transaction as the batch
//! it describes.
//!
//! In: the records a batch updated, each with the values it changed as they were before. Out:
//! `import_ledger` rows (action `updated`). Guarantees: a record touched again by the same job
//! (a later batch) keeps the oldest value of every name an earlier batch already changed and
//! gains the names it changes first, and its `after_version` moves on; so rollback sets back
//! exactly the state before the job, and a record changed since the job is recognised by its
//! version.
//!
//! Records a job creates have no ledger rows: they carry the job (`records.created_by_job`), and
//! rollback deletes them by it ([`crate::import::rollback`]).
//!
//! A before-image holds only what changed ([`BeforeImage::Changed`]): per name (a field slug or
//! one of the record's own columns, as version rows name them) its value before the job, wrapped
//! in a one-element array so that an absent value (`[null]`) survives the merge of two images
//! (`json_patch` and `jsonb ||` keep the older side's members); and the job that had last changed
//! the record. Ledgers written before the upgrade hold whole records ([`BeforeImage::Full`]).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::error::{Error, Result};
use crate::records::write::Draft;
use crate::store::{Dialect, Tx, sqlite_raw};

/// The action every ledger row now has.
const UPDATED: &str = "updated";

/// What rollback sets back on a record a job updated.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub(crate) enum BeforeImage {
    Changed(ChangedValues),
    /// The whole record before the job (ledgers written before provenance).
    Full(Draft),
}

/// The values a job changed, as they were before it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct ChangedValues {
    /// Name → `[old value]`.
    pub changed: Map<String, Value>,
    /// `[the job that had last changed the record]` (`[null]`: none), when the job moved it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_by_job: Option<Value>,
}

impl BeforeImage {
    /// The image of one batch's changes of a record: its version rows (`versions`, oldest
    /// first, each `{name: {"old", "new"}}`), the record having been last changed by job
    /// `before_job` and now by `after_job`. A name keeps the `old` of the first version that
    /// changed it: its value before the batch.
    pub(crate) fn of_versions(
        versions: &[(i64, Value)],
        before_job: Option<&str>,
        after_job: Option<&str>,
    ) -> BeforeImage {
        let mut changed = Map::new();
        for change in versions
            .iter()
            .filter_map(|(_, changes)| changes.as_object())
        {
            for (name, values) in change {
                if !changed.contains_key(name) {
                    let old = values.get("old").cloned().unwrap_or(Value::Null);
                    changed.insert(name.clone(), Value::Array(vec![old]));
                }
            }
        }
        BeforeImage::Changed(ChangedValues {
            changed,
            updated_by_job: (before_job != after_job)
                .then(|| Value::Array(vec![before_job.map_or(Value::Null, Value::from)])),
        })
    }

    /// The image as the ledger stores it.
    fn to_json(&self) -> Result<String> {
        serde_json::to_string(self)
            .map_err(|e| Error::internal(format!("a before-image as JSON: {e}")))
    }
}

/// A ledger line: a record the job updated.
pub(crate) struct LedgerEntry {
    pub record_id: String,
    pub module_id: String,
    /// The record before the job's first change of it, as far as this batch changed it.
    pub before: BeforeImage,
    pub after_version: i64,
}

/// Appends ledger lines. A record seen again keeps the values its earlier lines hold and only
/// adds what is new, and moves its `after_version`, so rollback goes back to the state before the
/// job.
pub(crate) async fn write_ledger(tx: &mut Tx, job_id: &str, entries: &[LedgerEntry]) -> Result<()> {
    if entries.is_empty() {
        return Ok(());
    }
    if tx.dialect() == Dialect::Sqlite {
        return sqlite_raw::with_raw(tx, |connection| write_sqlite(connection, job_id, entries))
            .await;
    }
    // PostgreSQL: COPY into a staging table, then one `INSERT … SELECT … ON CONFLICT`.
    crate::import::write::postgres::write_ledger(tx, job_id, entries).await
}

/// [`write_ledger`] on SQLite's raw connection. `json_patch(new, old)` keeps the members of the
/// older image and adds the newer one's others (values are arrays, so no null member deletes).
pub(crate) fn write_sqlite(
    connection: &rusqlite::Connection,
    job_id: &str,
    entries: &[LedgerEntry],
) -> Result<()> {
    let mut insert = connection.prepare_cached(
        "INSERT INTO import_ledger (job_id, record_id, action, module_id, before, \
         after_version) VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (job_id, record_id) \
         DO UPDATE SET after_version = excluded.after_version, \
         before = json_patch(excluded.before, import_ledger.before)",
    )?;
    for entry in entries {
        insert.execute(rusqlite::params![
            job_id,
            entry.record_id,
            UPDATED,
            entry.module_id,
            entry.before.to_json()?,
            entry.after_version,
        ])?;
    }
    Ok(())
}

/// The before-image column of a ledger row.
pub(crate) fn parse_before(text: &str) -> Result<BeforeImage> {
    serde_json::from_str(text)
        .map_err(|e| Error::corrupt(format!("an import ledger before-image does not parse: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::records::write::diff;
    use serde_json::json;

    fn draft(fields: Value) -> Draft {
        Draft::named("Ann".into(), fields.as_object().unwrap().clone())
    }

    #[test]
    fn an_image_holds_only_the_changed_values_and_tells_an_absent_one() {
        let before = draft(json!({"email": "a@x.org", "city": "Oslo"}));
        let mut after = draft(json!({"email": "a@x.org", "company": "Acme"}));
        after.display_name = "Ann B".into();
        let versions = [(2, Value::Object(diff(&before, &after)))];
        let image = BeforeImage::of_versions(&versions, None, Some("imp_1"));
        let json: Value = serde_json::from_str(&image.to_json().unwrap()).unwrap();
        assert_eq!(
            json,
            json!({"changed": {"city": ["Oslo"], "company": [null], "displayName": ["Ann"]},
                   "updatedByJob": [null]})
        );
        assert_eq!(parse_before(&json.to_string()).unwrap(), image);
    }

    #[test]
    fn a_whole_record_from_before_the_upgrade_still_reads() {
        let old = serde_json::to_string(&draft(json!({"email": "a@x.org"}))).unwrap();
        assert!(matches!(parse_before(&old).unwrap(), BeforeImage::Full(_)));
        assert!(parse_before("{\"changed\": 3}").is_err());
    }
}
