//! Write: one batch's records, match keys and versions, as few statements as possible.
//!
//! On SQLite the batch is written with cached prepared statements on the transaction's own
//! connection ([`sqlite`]): one bound row per step, no SQL text built per row, no round trip to
//! sqlx's worker thread. On PostgreSQL it is streamed with `COPY` into temporary staging tables
//! and moved into place with one set-based statement per table ([`postgres`]). Rollback's
//! restores go through the same two paths ([`write_records`]).
//!
//! In: the records a batch decided to create or change ([`Working`], in the order the batch
//! touched them). Out: rows in `records`, `record_keys` and `record_versions`, and the ledger
//! lines that undo them. Guarantees: changed records give up the keys they no longer hold before
//! any record takes new ones, so a unique value handed from one record to another within a batch
//! is accepted exactly as one-by-one writes would accept it; keys a record keeps are not written.

use std::collections::HashMap;

use serde_json::Value;

use crate::error::Result;
use crate::import::ledger::{LedgerAction, LedgerEntry};
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
}

/// A record a batch made or changed, and what rollback needs to undo it.
pub(crate) struct Working {
    pub written: Written,
    pub is_new: bool,
    /// The record as the batch found it (existing records only).
    pub before: Option<Draft>,
}

/// Writes what a batch decided — `working` in the order `order` touched it — and returns the
/// ledger lines that undo it.
pub(crate) async fn write_batch(
    tx: &mut Tx,
    module: &Module,
    spaces: &KeySpaces,
    actor: &Actor,
    working: &HashMap<String, Working>,
    order: &[String],
) -> Result<Vec<LedgerEntry>> {
    let touched: Vec<&Working> = order.iter().filter_map(|id| working.get(id)).collect();
    let new: Vec<&Written> = touched
        .iter()
        .filter(|w| w.is_new)
        .map(|w| &w.written)
        .collect();
    let changed: Vec<&Written> = touched
        .iter()
        .filter(|w| !w.is_new)
        .map(|w| &w.written)
        .collect();
    write_records(tx, module, spaces, actor, &new, &changed).await?;
    Ok(touched
        .iter()
        .map(|w| LedgerEntry {
            record_id: w.written.id.clone(),
            module_id: module.id.clone(),
            action: if w.is_new {
                LedgerAction::Created
            } else {
                LedgerAction::Updated
            },
            before: w.before.clone(),
            after_version: w.written.version,
        })
        .collect())
}

/// Writes `new` and `changed` records (each in the order it was touched) with their key changes
/// and version rows, on the store's bulk path.
pub(crate) async fn write_records(
    tx: &mut Tx,
    module: &Module,
    spaces: &KeySpaces,
    actor: &Actor,
    new: &[&Written],
    changed: &[&Written],
) -> Result<()> {
    let batch = Batch {
        module,
        spaces,
        actor,
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
    pub now: i64,
    pub new: &'a [&'a Written],
    pub changed: &'a [&'a Written],
}
