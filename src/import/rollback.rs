//! Rollback: undo an import exactly, page by page: delete its records, restore what it updated.
//!
//! In: a job id. Out: a [`RollbackOutcome`] (records deleted, records restored, records left
//! alone and why). Guarantees: records the job created (they name it: `records.created_by_job`)
//! are deleted and records it updated get the values it changed back (the ledger's before-images),
//! unless they changed since the job left them (reported, never overwritten); what is undone
//! leaves the store (a deleted record) or the ledger (a restored one) in the same transaction, so
//! an undo that stops half-way (a crash, a second rollback) goes on with exactly what is left;
//! unique values are decided as one-by-one restores would decide them.

use std::collections::{HashMap, HashSet};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::error::{Error, Result};
use crate::import::dedupe::KeyIndex;
use crate::import::job::{JobStatus, get_job};
use crate::import::ledger::{BeforeImage, parse_before};
use crate::import::undo::{self, Ending};
use crate::import::write::{self as batch_write, Written};
use crate::records::history;
use crate::records::keys::{self, KeySpaces, old_keys};
use crate::records::model::{record_columns, record_from_row};
use crate::records::write::{Draft, MatchKey, diff, match_keys, purge_where};
use crate::records::{Actor, Record};
use crate::schema::Module;
use crate::schema::registry::ModuleRegistry;
use crate::store::{Sql, Store, Tx, now_micros};

/// Rows processed at once when rolling back, each page one transaction. Measured on the rollback
/// of a 300k-row upsert on SQLite (BENCHMARKS.md, "Rollback page size"): 500 took 28.3 s at a
/// peak of 83 MiB, 2,000 took 24.6 s (fewer commits, so fewer WAL checkpoints of scattered
/// pages) at 120 MiB, 5,000 took 21.8 s at 210 MiB, too near the 256 MiB bound.
const ROLLBACK_PAGE: i64 = 2_000;

/// What rollback did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RollbackOutcome {
    /// Records the import created, now deleted.
    pub deleted_count: u64,
    /// Records the import updated, now back to their state before the import.
    pub restored_count: u64,
    /// Records left alone because they changed after the import (or were already gone).
    pub conflicts: Vec<RollbackConflict>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RollbackConflict {
    pub record_id: String,
    pub reason: String,
}

/// Undoes an import: deletes the records it created and restores the records it updated, except
/// those changed since (reported in the outcome). The job becomes `cancelled`. Rolling back a
/// job that is already cancelled returns the first rollback's outcome and changes nothing; a
/// failed job was undone when it failed, so rolling it back only finishes an undo that stopped.
pub async fn rollback(
    store: &Store,
    modules: &ModuleRegistry,
    module: &str,
    job_id: &str,
    actor: &Actor,
) -> Result<RollbackOutcome> {
    let job = get_job(store, modules, module, job_id).await?;
    if job.status == JobStatus::Cancelled {
        return Ok(job.rollback.unwrap_or_default());
    }
    if job.status == JobStatus::Failed {
        // A failed job was undone from its ledger when it failed; whatever that undo could not
        // finish is still in the ledger, and is undone now. The job stays failed.
        return undo_ledger(store, modules, job_id, actor).await;
    }
    if job.status == JobStatus::Processing && abandoned(store, job_id).await? {
        // The process running it died (its lease ran out): undo it like a failed job, marked
        // as being undone so that a crash of this undo leaves it to a worker.
        let outcome = if job.undo_pending {
            undo::finish_pending(store, modules, job_id, actor, None).await?
        } else {
            undo::undo_job(store, modules, job_id, Ending::Cancelled, actor, None).await?
        };
        return Ok(outcome.unwrap_or_default());
    }
    if job.undo_pending {
        return Err(Error::Conflict {
            message: format!("import job {job_id} is being undone; it ends once that is done"),
            details: json!({ "importJobId": job_id, "status": job.status, "undoPending": true }),
        });
    }
    if matches!(job.status, JobStatus::Pending | JobStatus::Processing) {
        return Err(Error::Conflict {
            message: format!("import job {job_id} is still {}", job.status.as_str()),
            details: json!({ "importJobId": job_id, "status": job.status }),
        });
    }
    let outcome = undo_ledger(store, modules, job_id, actor).await?;
    let mut sql = Sql::new("UPDATE import_jobs SET status = ");
    sql.bind(JobStatus::Cancelled.as_str())
        .push(", rollback = ")
        .bind(
            serde_json::to_string(&outcome)
                .map_err(|e| Error::internal(format!("rollback outcome as JSON: {e}")))?,
        )
        .push(" WHERE id = ")
        .bind(job_id);
    store.execute(sql).await?;
    Ok(outcome)
}

/// Whether a processing job's lease ran out: the process running it is gone.
async fn abandoned(store: &Store, job_id: &str) -> Result<bool> {
    let mut sql = Sql::new("SELECT lease_expires_at FROM import_jobs WHERE id = ");
    sql.bind(job_id);
    let expiry = match store.fetch_optional(sql).await? {
        Some(row) => row.opt_int("lease_expires_at")?,
        None => None,
    };
    Ok(expiry.is_some_and(|at| at < now_micros()))
}

/// Undoes a job (see [`rollback`]); also used when a job fails half-way.
///
/// Created records go first (found by the job they name as their creator), then updated ones
/// (from the ledger): an updated record may need back a unique value that a record the job
/// created, or another record it updated, holds now. A restore refused for such a value is tried
/// again once the rest of the ledger is undone, as long as that makes progress; a restore still
/// refused is reported as a conflict.
pub(crate) async fn undo_ledger(
    store: &Store,
    modules: &ModuleRegistry,
    job_id: &str,
    actor: &Actor,
) -> Result<RollbackOutcome> {
    let mut outcome = RollbackOutcome::default();
    let o = &mut outcome;
    delete_created(store, modules, job_id, o).await?;
    let mut refused = restore_updated(store, modules, job_id, None, actor, o).await?;
    while !refused.is_empty() {
        let mut still = Vec::new();
        for c in &refused {
            let only = Some(c.record_id.as_str());
            still.extend(restore_updated(store, modules, job_id, only, actor, o).await?);
        }
        let stuck = still.len() == refused.len();
        refused = still;
        if stuck {
            break;
        }
    }
    outcome.conflicts.extend(refused);
    Ok(outcome)
}

/// Why a record the job left at version `left_at` cannot be undone now, if it cannot.
fn changed_since(current: &Record, left_at: i64) -> Option<String> {
    if current.version == left_at && current.deleted_date_time.is_none() {
        return None;
    }
    Some(format!(
        "the record changed after the import (version {} now, {left_at} when the import left \
         it{})",
        current.version,
        if current.deleted_date_time.is_some() {
            "; it is in the trash"
        } else {
            ""
        }
    ))
}

/// Deletes the records job `job_id` created, a page at a time in id order, each page in its own
/// transaction; a record changed since the job (a version row another writer wrote, or the
/// trash) is left alone and reported. The version the job left a record at is derived: the last
/// version row the job wrote, else 1 (the record as created).
async fn delete_created(
    store: &Store,
    modules: &ModuleRegistry,
    job_id: &str,
    outcome: &mut RollbackOutcome,
) -> Result<()> {
    let dialect = store.dialect();
    let mut after = String::new();
    loop {
        let mut tx = store.begin().await?;
        let mut sql = Sql::new(format!(
            "SELECT m.slug AS module_slug, {}, COALESCE((SELECT MAX(v.version) \
             FROM record_versions v WHERE v.record_id = r.id AND v.job_id = ",
            record_columns(dialect),
        ));
        sql.bind(job_id)
            .push(
                "), 1) AS left_at_version FROM records r JOIN modules m ON m.id = r.module_id \
                   WHERE r.created_by_job = ",
            )
            .bind(job_id)
            .push(" AND r.id > ")
            .bind(after.clone())
            .push(" ORDER BY r.id LIMIT ")
            .bind(ROLLBACK_PAGE);
        let rows = tx.fetch_all(sql).await?;
        if rows.is_empty() {
            tx.commit().await?;
            return Ok(());
        }
        let mut to_delete = Vec::new();
        for row in &rows {
            let current = record_from_row(row, &row.text("module_slug")?)?;
            after = current.id.clone();
            if let Some(reason) = changed_since(&current, row.int("left_at_version")?) {
                outcome.conflicts.push(RollbackConflict {
                    record_id: current.id,
                    reason,
                });
                continue;
            }
            to_delete.push((row.text("module_slug")?, current));
        }
        // A record holds the keys of its values; nothing else finds them.
        for (module_slug, records) in by_module(to_delete) {
            let module = modules.get(&module_slug).await?;
            let spaces = KeySpaces::of(&mut tx, &module).await?;
            let held: Vec<(&str, Vec<MatchKey>)> = records
                .iter()
                .map(|r| (r.id.as_str(), match_keys(&module, &r.fields)))
                .collect();
            keys::remove_keys(&mut tx, &spaces, &held).await?;
            let mut filter = Sql::new("id IN (");
            filter
                .bind_list(records.iter().map(|r| r.id.clone()))
                .push(")");
            outcome.deleted_count += purge_where(&mut tx, filter).await?;
        }
        tx.commit().await?;
    }
}

/// An updated record to set back to its before-image.
struct Restore {
    current: Record,
    before: Draft,
    /// The job that had last changed the record before the job being undone.
    updated_by_job: Option<String>,
}

impl Restore {
    /// `current` set back by `image`: the values it names take their old values; everything else
    /// the job did not change.
    fn new(current: Record, image: BeforeImage) -> Restore {
        match image {
            BeforeImage::Full(before) => Restore {
                current,
                before,
                updated_by_job: None,
            },
            BeforeImage::Changed(image) => {
                let mut before = current.clone();
                for (name, old) in image.changed {
                    history::set_named(&mut before, &name, unwrap_old(old));
                }
                let updated_by_job = match image.updated_by_job {
                    Some(old) => unwrap_old(old).as_str().map(str::to_string),
                    None => current
                        .imported_by
                        .as_ref()
                        .and_then(|p| p.updated_by_job.clone()),
                };
                Restore {
                    before: Draft::from_record(&before),
                    current,
                    updated_by_job,
                }
            }
        }
    }
}

/// The value of a before-image member (`[old]`).
fn unwrap_old(member: Value) -> Value {
    match member {
        Value::Array(mut items) if items.len() == 1 => items.pop().unwrap_or(Value::Null),
        other => other,
    }
}

/// `items` (module slug, item) grouped by module, each group in ledger order.
fn by_module<T>(items: Vec<(String, T)>) -> Vec<(String, Vec<T>)> {
    let mut groups: Vec<(String, Vec<T>)> = Vec::new();
    for (module_slug, item) in items {
        match groups.iter_mut().find(|(slug, _)| *slug == module_slug) {
            Some((_, group)) => group.push(item),
            None => groups.push((module_slug, vec![item])),
        }
    }
    groups
}

/// Sets records of one module back to their before-images with a few multi-row statements,
/// deciding each as [`RecordWriter::update`] would one after the other: a restore whose unique
/// value (or external id) another record holds by then is refused, and a record the page
/// restores gives up its current values to the records after it. Returns the ids restored
/// (an unchanged record counts as restored, with nothing written).
async fn restore_records(
    tx: &mut Tx,
    module: &Module,
    restores: Vec<Restore>,
    actor: &Actor,
    refused: &mut Vec<RollbackConflict>,
) -> Result<Vec<String>> {
    let mut restored = Vec::new();
    let mut written: Vec<Written> = Vec::new();
    let planned: Vec<(Restore, Map<String, Value>, Vec<MatchKey>)> = restores
        .into_iter()
        .map(|r| {
            let changes = diff(&Draft::from_record(&r.current), &r.before);
            let keys = match_keys(module, &r.before.fields);
            (r, changes, keys)
        })
        .collect();
    let wanted: HashSet<(String, String)> = planned
        .iter()
        .flat_map(|(_, _, keys)| keys.iter().filter(|k| k.is_unique))
        .map(|k| (k.field_slug.clone(), k.key.clone()))
        .collect();
    let spaces = KeySpaces::of(tx, module).await?;
    let mut index = KeyIndex::load(tx, &spaces, &wanted).await?;
    let mut external_ids = ExternalIds::default();
    for (restore, changes, keys) in planned {
        let Restore {
            current,
            before,
            updated_by_job,
        } = restore;
        if changes.is_empty() {
            restored.push(current.id);
            continue;
        }
        let changed_fields = current.fields != before.fields;
        let external_id_changed = current.external_id != before.external_id;
        if changed_fields || external_id_changed {
            if let Some((key, holder)) = index.unique_conflict(&current.id, &keys) {
                refused.push(RollbackConflict {
                    record_id: current.id,
                    reason: format!(
                        "{}: the value '{}' is already used by record {holder}",
                        key.field_slug, key.key
                    ),
                });
                continue;
            }
            if external_id_changed
                && let Some(wanted) = before.external_id.as_deref()
                && let Some(holder) = external_ids.holder(tx, module, wanted, &current.id).await?
            {
                refused.push(RollbackConflict {
                    record_id: current.id,
                    reason: format!("externalId: '{wanted}' is already used by record {holder}"),
                });
                continue;
            }
        }
        if changed_fields {
            index.set_keys(&current.id, &keys);
        }
        if external_id_changed {
            external_ids.moved(
                &current.id,
                current.external_id.as_deref(),
                before.external_id.as_deref(),
            );
        }
        restored.push(current.id.clone());
        let version = current.version + 1;
        let old_keys = if changed_fields {
            old_keys(module, &current.fields, &before.fields, &keys)
        } else {
            keys.clone()
        };
        written.push(Written {
            id: current.id,
            draft: before,
            keys,
            old_keys,
            version,
            versions: vec![(version, Value::Object(changes))],
            updated_by_job,
        });
    }
    let all: Vec<&Written> = written.iter().collect();
    batch_write::write_records(tx, module, &spaces, actor, None, &[], &all).await?;
    Ok(restored)
}

/// External ids taken and given up by the records a page restored so far, over what the store
/// holds.
#[derive(Default)]
struct ExternalIds {
    taken: HashMap<String, String>,
    given_up: HashSet<(String, String)>,
}

impl ExternalIds {
    /// The live record other than `record` holding `external_id`, if any.
    async fn holder(
        &self,
        tx: &mut Tx,
        module: &Module,
        external_id: &str,
        record: &str,
    ) -> Result<Option<String>> {
        if let Some(holder) = self.taken.get(external_id) {
            return Ok((holder != record).then(|| holder.clone()));
        }
        let mut sql = Sql::new("SELECT id FROM records WHERE module_id = ");
        sql.bind(module.id.clone())
            .push(" AND external_id = ")
            .bind(external_id)
            .push(" AND deleted_at IS NULL AND id <> ")
            .bind(record);
        let Some(row) = tx.fetch_optional(sql).await? else {
            return Ok(None);
        };
        let holder = row.text("id")?;
        let released = self
            .given_up
            .contains(&(external_id.to_string(), holder.clone()));
        Ok((!released).then_some(holder))
    }

    fn moved(&mut self, record: &str, from: Option<&str>, to: Option<&str>) {
        if let Some(from) = from {
            if self.taken.get(from).is_some_and(|h| h == record) {
                self.taken.remove(from);
            }
            self.given_up.insert((from.to_string(), record.to_string()));
        }
        if let Some(to) = to {
            self.taken.insert(to.to_string(), record.to_string());
        }
    }
}

/// Restores the records of the job's ledger (or only record `only`) to their before-images, a
/// page at a time; returns the restores refused because a unique value is taken.
async fn restore_updated(
    store: &Store,
    modules: &ModuleRegistry,
    job_id: &str,
    only: Option<&str>,
    actor: &Actor,
    outcome: &mut RollbackOutcome,
) -> Result<Vec<RollbackConflict>> {
    let dialect = store.dialect();
    let mut refused = Vec::new();
    let mut after = String::new();
    loop {
        let mut tx = store.begin().await?;
        let mut sql = Sql::new(format!(
            "SELECT l.record_id AS ledger_record_id, {} AS before_image, l.after_version, \
             m.slug AS module_slug, {} \
             FROM import_ledger l JOIN modules m ON m.id = l.module_id \
             LEFT JOIN records r ON r.id = l.record_id \
             WHERE l.job_id = ",
            dialect.json_column("l.before"),
            record_columns(dialect),
        ));
        sql.bind(job_id);
        if let Some(record_id) = only {
            sql.push(" AND l.record_id = ").bind(record_id);
        }
        sql.push(" AND l.record_id > ")
            .bind(after.clone())
            .push(" ORDER BY l.record_id LIMIT ")
            .bind(ROLLBACK_PAGE);
        let rows = tx.fetch_all(sql).await?;
        if rows.is_empty() {
            tx.commit().await?;
            return Ok(refused);
        }
        let mut undone = Vec::new();
        let mut restores = Vec::new();
        for row in &rows {
            let record_id = row.text("ledger_record_id")?;
            after = record_id.clone();
            let current = match row.opt_text("id")? {
                Some(_) => record_from_row(row, &row.text("module_slug")?)?,
                None => {
                    outcome.conflicts.push(RollbackConflict {
                        record_id,
                        reason: "the record no longer exists".into(),
                    });
                    continue;
                }
            };
            if let Some(reason) = changed_since(&current, row.int("after_version")?) {
                outcome
                    .conflicts
                    .push(RollbackConflict { record_id, reason });
                continue;
            }
            let image = match row.opt_text("before_image")? {
                Some(text) => parse_before(&text)?,
                None => {
                    return Err(Error::corrupt(format!(
                        "import ledger of job {job_id}: no before-image for updated record \
                         {record_id}"
                    )));
                }
            };
            restores.push((row.text("module_slug")?, Restore::new(current, image)));
        }
        for (module_slug, page) in by_module(restores) {
            let module = modules.get(&module_slug).await?;
            let restored = restore_records(&mut tx, &module, page, actor, &mut refused).await?;
            outcome.restored_count += restored.len() as u64;
            undone.extend(restored);
        }
        // What is undone leaves the ledger in the same transaction, so an undo that stops
        // half-way (or a second rollback) goes on with exactly what is left.
        if !undone.is_empty() {
            let mut sql = Sql::new("DELETE FROM import_ledger WHERE job_id = ");
            sql.bind(job_id)
                .push(" AND record_id IN (")
                .bind_list(undone)
                .push(")");
            tx.execute(sql).await?;
        }
        tx.commit().await?;
    }
}
