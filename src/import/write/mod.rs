//! Write: one batch's records, match keys and versions, as few statements as possible.
//!
//! On SQLite the batch is written with cached prepared statements on the transaction's own
//! connection ([`sqlite`]): one bound row per step, no SQL text built per row, no round trip to
//! sqlx's worker thread. On PostgreSQL it is streamed with `COPY`, straight into the tables for
//! what only appends and into temporary staging tables for updates, then moved into place with
//! one set-based statement per table ([`postgres`]). Rollback's
//! restores go through the same two paths ([`write_records`]).
//!
//! In: the records a batch decided to create or change ([`Working`], in the order the batch
//! touched them). Out: rows in `records` (new ones naming the job that created them),
//! `record_keys` and `record_versions` (naming the job that wrote them), and the ledger lines
//! that undo the updates: the old values of what each update changed. Guarantees: changed records give up the keys they no longer hold before
//! any record takes new ones, so a unique value handed from one record to another within a batch
//! is accepted exactly as one-by-one writes would accept it; keys a record keeps are not written.

use std::collections::HashMap;

use serde_json::Value;

use crate::error::Result;
use crate::import::ledger::{self, BeforeImage, LedgerEntry};
use crate::records::Actor;
use crate::records::keys::KeySpaces;
use crate::records::write::{Draft, MatchKey};
use crate::schema::Module;
use crate::store::{Dialect, Tx, now_micros, sqlite_raw};

pub(crate) mod postgres;
pub(crate) mod sqlite;

/// A record as the batch leaves it.
#[derive(Debug, Clone)]
pub(crate) struct Written {
    pub id: String,
    pub draft: Draft,
    pub keys: Vec<MatchKey>,
    /// The keys the store holds for the record before the batch (none for a new record).
    pub old_keys: Vec<MatchKey>,
    /// The version the record has after the batch.
    pub version: i64,
    /// Version rows the batch adds: (version, changes).
    pub versions: Vec<(i64, Value)>,
    /// The import job the record names as the one that last changed it once written.
    pub updated_by_job: Option<String>,
}

/// A record a batch made or changed, and what rollback needs to undo it.
pub(crate) struct Working {
    pub written: Written,
    pub is_new: bool,
    /// For a stored record the job's ledger must undo: the job that had last changed it (its
    /// old values are the first `old` of each name in `written.versions`).
    pub before: Option<Option<String>>,
}

/// What one import batch decided, ready to write: `working` in the order `order` touched it, by
/// job `job_id` (if any). Written with the ledger lines that undo its updates (a created record
/// names its job itself).
pub(crate) struct Decisions<'a> {
    pub module: &'a Module,
    pub spaces: &'a KeySpaces,
    pub actor: &'a Actor,
    pub job_id: Option<&'a str>,
    pub working: &'a HashMap<String, Working>,
    pub order: &'a [String],
}

impl Decisions<'_> {
    /// Writes the batch on the store's bulk path.
    pub(crate) async fn write(&self, tx: &mut Tx) -> Result<()> {
        if tx.dialect() == Dialect::Sqlite {
            return sqlite_raw::with_raw(tx, |connection| self.write_sqlite(connection)).await;
        }
        let touched = touched(self.working, self.order);
        let (new, changed) = split(&touched);
        let Decisions {
            module,
            spaces,
            actor,
            job_id,
            ..
        } = *self;
        write_records(tx, module, spaces, actor, job_id, &new, &changed).await?;
        if let Some(job_id) = job_id {
            ledger::write_ledger(tx, job_id, &ledger_entries(module, &touched)).await?;
        }
        Ok(())
    }

    /// Writes the batch on SQLite's raw connection, in a raw session the caller holds (the
    /// import writer holds one for the whole batch).
    pub(crate) fn write_sqlite(&self, connection: &rusqlite::Connection) -> Result<()> {
        let touched = touched(self.working, self.order);
        let (new, changed) = split(&touched);
        let batch = Batch {
            module: self.module,
            spaces: self.spaces,
            actor: self.actor,
            job_id: self.job_id,
            now: now_micros(),
            new: &new,
            changed: &changed,
        };
        batch.write_sqlite(connection)?;
        if let Some(job_id) = self.job_id {
            ledger::write_sqlite(connection, job_id, &ledger_entries(self.module, &touched))?;
        }
        Ok(())
    }
}

/// The records a batch touched, in the order it touched them.
fn touched<'w>(working: &'w HashMap<String, Working>, order: &[String]) -> Vec<&'w Working> {
    order.iter().filter_map(|id| working.get(id)).collect()
}

/// The new and the changed records of `touched`, each in touched order.
fn split<'w>(touched: &[&'w Working]) -> (Vec<&'w Written>, Vec<&'w Written>) {
    let (new, changed): (Vec<&Working>, Vec<&Working>) = touched.iter().partition(|w| w.is_new);
    (
        new.into_iter().map(|w| &w.written).collect(),
        changed.into_iter().map(|w| &w.written).collect(),
    )
}

/// The ledger lines of the stored records a batch updated: the values each update changed.
fn ledger_entries(module: &Module, touched: &[&Working]) -> Vec<LedgerEntry> {
    touched
        .iter()
        .filter_map(|w| {
            let updated_by_job = w.before.as_ref()?;
            Some(LedgerEntry {
                record_id: w.written.id.clone(),
                module_id: module.id.clone(),
                before: BeforeImage::of_versions(
                    &w.written.versions,
                    updated_by_job.as_deref(),
                    w.written.updated_by_job.as_deref(),
                ),
                after_version: w.written.version,
            })
        })
        .collect()
}

/// Writes `new` and `changed` records (each in the order it was touched) with their key changes
/// and version rows, on the store's bulk path; `job_id` is the import job writing them, if any
/// (new records name it as their creator, version rows as their author).
pub(crate) async fn write_records(
    tx: &mut Tx,
    module: &Module,
    spaces: &KeySpaces,
    actor: &Actor,
    job_id: Option<&str>,
    new: &[&Written],
    changed: &[&Written],
) -> Result<()> {
    let batch = Batch {
        module,
        spaces,
        actor,
        job_id,
        now: now_micros(),
        new,
        changed,
    };
    if tx.dialect() == Dialect::Sqlite {
        sqlite_raw::with_raw(tx, |connection| batch.write_sqlite(connection)).await
    } else {
        batch.write_postgres(tx).await
    }
}

/// One batch's writes: the records it creates and changes, each in the order it touched them,
/// by whom and when.
pub(crate) struct Batch<'a> {
    pub module: &'a Module,
    pub spaces: &'a KeySpaces,
    pub actor: &'a Actor,
    /// The import job writing the batch, if any.
    pub job_id: Option<&'a str>,
    pub now: i64,
    pub new: &'a [&'a Written],
    pub changed: &'a [&'a Written],
}
