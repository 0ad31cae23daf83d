//! Ledger: what rollback needs of a job, written in the same transaction as the batch it
//! describes.
//!
//! In: the records a batch created or updated (with the record as it was before the job's first
//! change). Out: `import_ledger` rows. Guarantees: a record touched twice by one job keeps its
//! first action and before-image and only moves its `after_version`, so rollback goes back to the
//! state before the job, and a record changed since the job is recognised by its version.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::records::write::Draft;
use crate::store::{Dialect, Tx, sqlite_raw};

/// What a job did to a record, as the ledger stores it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum LedgerAction {
    /// Made by the job: rollback deletes it.
    Created,
    /// Changed by the job: rollback restores its before-image.
    Updated,
}

impl LedgerAction {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            LedgerAction::Created => "created",
            LedgerAction::Updated => "updated",
        }
    }

    /// The action of a stored ledger row; anything else is a corrupt ledger, not the caller's
    /// fault.
    pub(crate) fn parse(text: &str) -> Result<LedgerAction> {
        match text {
            "created" => Ok(LedgerAction::Created),
            "updated" => Ok(LedgerAction::Updated),
            other => Err(Error::corrupt(format!("import ledger action '{other}'"))),
        }
    }
}

/// A ledger line: a record the job created or updated.
pub(crate) struct LedgerEntry {
    pub record_id: String,
    pub module_id: String,
    pub action: LedgerAction,
    /// The record before the job's first change (updates only).
    pub before: Option<Draft>,
    pub after_version: i64,
}

/// Appends ledger lines. A record seen again keeps its first before-image (and its `created`
/// action) and only moves its `after_version`, so rollback goes back to the state before the job.
pub(crate) async fn write_ledger(tx: &mut Tx, job_id: &str, entries: &[LedgerEntry]) -> Result<()> {
    if tx.dialect() == Dialect::Sqlite {
        return sqlite_raw::with_raw(tx, |connection| {
            let mut insert = connection.prepare_cached(
                "INSERT INTO import_ledger (job_id, record_id, action, module_id, before, \
                 after_version) VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (job_id, record_id) \
                 DO UPDATE SET after_version = excluded.after_version",
            )?;
            for entry in entries {
                let before = entry
                    .before
                    .as_ref()
                    .map(serde_json::to_string)
                    .transpose()
                    .map_err(|e| Error::internal(format!("a before-image as JSON: {e}")))?;
                insert.execute(rusqlite::params![
                    job_id,
                    entry.record_id,
                    entry.action.as_str(),
                    entry.module_id,
                    before,
                    entry.after_version,
                ])?;
            }
            Ok(())
        })
        .await;
    }
    // PostgreSQL: COPY into a staging table, then one `INSERT … SELECT … ON CONFLICT`.
    crate::import::write::postgres::write_ledger(tx, job_id, entries).await
}
