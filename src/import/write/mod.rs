//! Write: one batch's records, match keys and versions, as few statements as possible.
//!
//! On SQLite the batch is written with cached prepared statements on the transaction's own
//! connection ([`sqlite`]): one bound row per step, no SQL text built per row, no round trip to
//! sqlx's worker thread. On PostgreSQL it is streamed with `COPY` into temporary staging tables
//! and moved into place with one set-based statement per table ([`postgres`]). The multi-row
//! statements below serve rollback's restores on both stores.
//!
//! In: the records a batch decided to create or change ([`Working`], in the order the batch
//! touched them). Out: rows in `records`, `record_keys` and `record_versions`, and the ledger
//! lines that undo them. Guarantees: changed records give up their old keys before new records
//! take theirs, so a unique value handed from one record to another within a batch is accepted
//! exactly as one-by-one writes would accept it.

use std::collections::HashMap;

use serde_json::Value;

use crate::error::Result;
use crate::import::ledger::{LedgerAction, LedgerEntry};
use crate::records::Actor;
use crate::records::write::{DRAFT_COLUMNS, Draft, MatchKey, insert_keys_sql, push_draft_values};
use crate::schema::Module;
use crate::store::{Dialect, Sql, Tx, now_micros, sqlite_raw, statement_pages};

pub(crate) mod postgres;
pub(crate) mod sqlite;

/// Rows per multi-row INSERT: 17 parameters a record keeps this under SQLite's 32,766.
const INSERT_ROWS: usize = 500;

/// A record as the batch leaves it.
#[derive(Debug, Clone)]
pub(crate) struct Written {
    pub id: String,
    pub draft: Draft,
    pub keys: Vec<MatchKey>,
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
    actor: &Actor,
    working: &HashMap<String, Working>,
    order: &[String],
) -> Result<Vec<LedgerEntry>> {
    let now = now_micros();
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
    let versioned: Vec<&Written> = touched
        .iter()
        .map(|w| &w.written)
        .filter(|w| !w.versions.is_empty())
        .collect();
    if tx.dialect() == Dialect::Sqlite {
        let batch = sqlite::Batch {
            module,
            actor,
            now,
            new: &new,
            changed: &changed,
            rekeyed: &changed,
            versioned: &versioned,
        };
        sqlite_raw::with_raw(tx, |connection| batch.write(connection)).await?;
    } else {
        let batch = postgres::Batch {
            module,
            actor,
            now,
            new: &new,
            changed: &changed,
            versioned: &versioned,
        };
        batch.write(tx).await?;
    }
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

/// Updates `records` with one `UPDATE … FROM (VALUES …)` per page (PostgreSQL, and SQLite since
/// 3.33) instead of a statement, and a round trip to SQLite's thread, per record. `VALUES` names
/// its columns `column1`, `column2`, … on both dialects.
pub(crate) async fn update_records(
    tx: &mut Tx,
    module: &Module,
    records: &[&Written],
    actor: &Actor,
    now: i64,
) -> Result<()> {
    let dialect = tx.dialect();
    // column1 is the id; the draft's columns follow, then the version.
    let mut set: Vec<String> = DRAFT_COLUMNS
        .iter()
        .enumerate()
        .map(|(i, column)| format!("{column} = v.column{}", i + 2))
        .collect();
    set.push(format!("version = v.column{}", DRAFT_COLUMNS.len() + 2));
    let head = format!("UPDATE records SET {}, updated_at = ", set.join(", "));
    for page in statement_pages(records, INSERT_ROWS) {
        let mut sql = Sql::new(head.clone());
        sql.bind(now)
            .push(", updated_by_user_id = ")
            .bind(actor.user_id.clone())
            .push(", updated_by_display_name = ")
            .bind(actor.display_name.clone())
            .push(" FROM (VALUES ");
        for (i, record) in page.iter().enumerate() {
            if i > 0 {
                sql.push(", ");
            }
            sql.push("(").bind(record.id.clone()).push(", ");
            push_draft_values(&mut sql, dialect, module, &record.draft);
            sql.push(", ").bind(record.version).push(")");
        }
        sql.push(") AS v WHERE records.id = v.column1");
        tx.execute(sql).await?;
    }
    Ok(())
}

/// Replaces the match keys of `records` (existing ones are deleted first).
pub(crate) async fn replace_keys(
    tx: &mut Tx,
    module: &Module,
    records: &[&Written],
    delete_first: bool,
) -> Result<()> {
    if delete_first {
        for page in statement_pages(records, INSERT_ROWS) {
            let mut sql = Sql::new("DELETE FROM record_keys WHERE record_id IN (");
            sql.bind_list(page.iter().map(|r| r.id.clone())).push(")");
            tx.execute(sql).await?;
        }
    }
    let keys: Vec<(&str, &MatchKey)> = records
        .iter()
        .flat_map(|r| r.keys.iter().map(move |k| (r.id.as_str(), k)))
        .collect();
    for page in statement_pages(&keys, INSERT_ROWS * 2) {
        let sql = insert_keys_sql(&module.id, page.iter().map(|(id, k)| (*id, *k)));
        tx.execute(sql).await?;
    }
    Ok(())
}

pub(crate) async fn insert_versions(
    tx: &mut Tx,
    records: &[&Written],
    actor: &Actor,
    now: i64,
) -> Result<()> {
    let dialect = tx.dialect();
    let versions: Vec<(&str, &(i64, Value))> = records
        .iter()
        .flat_map(|r| r.versions.iter().map(move |v| (r.id.as_str(), v)))
        .collect();
    for page in statement_pages(&versions, INSERT_ROWS) {
        let mut sql = Sql::new(
            "INSERT INTO record_versions (record_id, version, action, changes, changed_at, user_id, \
             user_display_name) VALUES ",
        );
        for (i, (record_id, (version, changes))) in page.iter().enumerate() {
            if i > 0 {
                sql.push(", ");
            }
            sql.push("(")
                .bind(record_id.to_string())
                .push(", ")
                .bind(*version)
                .push(", 'update', ");
            let p = sql.arg(changes.to_string());
            sql.push(&dialect.json_param(&p))
                .push(", ")
                .bind(now)
                .push(", ")
                .bind_list([actor.user_id.clone(), actor.display_name.clone()])
                .push(")");
        }
        tx.execute(sql).await?;
    }
    Ok(())
}
