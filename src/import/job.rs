//! Import jobs (spec 002): the stored row of every execute, its ledger, and rollback.
//!
//! The writer updates a job's counters and appends to its ledger in the same transaction as each
//! batch, so a job row never claims rows that are not in the store. Rollback walks the ledger in
//! pages: records the job created are deleted, records it updated get their before-image back,
//! and any record changed since the job touched it is left alone and reported.

use serde::{Deserialize, Serialize};
use std::collections::{HashMap, HashSet};

use serde_json::{Map, Value, json};

use crate::error::{Error, Result};
use crate::import::apply::RowError;
use crate::import::dedupe::KeyIndex;
use crate::import::execute::ReferenceWarning;
use crate::import::write::{self as batch_write, Written};
use crate::jobs::Lease;
use crate::records::Actor;
use crate::records::Record;
use crate::records::model::{parse_stored_json, record_columns, record_from_row};
use crate::records::write::{Draft, MatchKey, diff, match_keys, purge_where};
use crate::schema::Module;
use crate::schema::registry::ModuleRegistry;
use crate::store::{Dialect, Row, Sql, Store, Tx, format_micros, now_micros, statement_pages};

/// Spec 002: jobs are kept for a week (the example's `expiresDateTime` is created + 7 days).
pub const JOB_RETENTION_MICROS: i64 = 7 * 24 * 3600 * 1_000_000;

/// Rows processed at once when rolling back.
const ROLLBACK_PAGE: i64 = 500;

pub use crate::jobs::JobStatus;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProcessingMode {
    Sync,
    Stream,
    Background,
}

impl ProcessingMode {
    /// Spec 002: up to 5,000 rows sync, up to 50,000 stream, background above.
    pub fn for_rows(rows: u64) -> ProcessingMode {
        match rows {
            0..=5_000 => ProcessingMode::Sync,
            5_001..=50_000 => ProcessingMode::Stream,
            _ => ProcessingMode::Background,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ProcessingMode::Sync => "sync",
            ProcessingMode::Stream => "stream",
            ProcessingMode::Background => "background",
        }
    }
}

/// Counts of what happened to the rows read so far. They always reconcile:
/// `processed = created + updated + unchanged + skipped + failed`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Counters {
    pub processed_rows: u64,
    pub created_rows: u64,
    pub updated_rows: u64,
    pub unchanged_rows: u64,
    pub skipped_rows: u64,
    pub error_rows: u64,
}

impl Counters {
    /// Spec 002's `successRows`: rows that ended in a record as the file says.
    pub fn success_rows(&self) -> u64 {
        self.created_rows + self.updated_rows + self.unchanged_rows
    }
}

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

/// An import job as spec 002's job status shows it, with the counters split further.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ImportJob {
    pub import_job_id: String,
    pub module_id: String,
    pub status: JobStatus,
    pub processing_mode: ProcessingMode,
    pub file_name: Option<String>,
    pub file_type: Option<String>,
    pub total_rows: u64,
    pub processed_rows: u64,
    pub success_rows: u64,
    pub created_rows: u64,
    pub updated_rows: u64,
    pub unchanged_rows: u64,
    pub error_rows: u64,
    pub skipped_rows: u64,
    /// Rows processed per second since the job started (while it runs, and once it is done).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rows_per_second: Option<f64>,
    /// The worker holding the job's lease (queued jobs).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub worker_id: Option<String>,
    /// How many times a worker claimed the job (more than one after a crash).
    #[serde(skip_serializing_if = "is_zero")]
    pub attempts: u64,
    /// A cancel was asked for; a running job stops at its next batch and is rolled back.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub cancel_requested: bool,
    pub ai_mapping_used: bool,
    pub duplicate_strategy: String,
    pub merge_mode: String,
    pub duplicate_match_fields: Vec<String>,
    pub errors: Vec<RowError>,
    pub reference_warnings: Vec<ReferenceWarning>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rollback: Option<RollbackOutcome>,
    pub created_by_user_id: Option<String>,
    pub created_date_time: String,
    pub started_date_time: Option<String>,
    pub completed_date_time: Option<String>,
    pub expires_date_time: String,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// What a new job row holds.
pub(crate) struct NewJob<'a> {
    pub id: &'a str,
    pub module_id: &'a str,
    /// `Processing` for a job run in the foreground, `Pending` for one queued for a worker.
    pub status: JobStatus,
    pub processing_mode: ProcessingMode,
    pub file_name: Option<&'a str>,
    pub file_type: Option<&'a str>,
    /// The file a worker reads (queued jobs).
    pub file_path: Option<&'a str>,
    /// How to open it again (queued jobs).
    pub source_options: Option<Value>,
    /// The lease of the process running the job now (foreground jobs).
    pub lease: Option<&'a Lease>,
    pub total_rows: u64,
    pub options: Value,
    pub actor: &'a Actor,
}

pub(crate) async fn insert_job(store: &Store, job: NewJob<'_>) -> Result<()> {
    let now = now_micros();
    let dialect = store.dialect();
    let mut sql = Sql::new(
        "INSERT INTO import_jobs (id, module_id, status, processing_mode, file_name, file_type, \
         file_path, source_options, worker_id, lease_expires_at, heartbeat_at, options, \
         total_rows, created_at, started_at, expires_at, created_by_user_id, \
         created_by_display_name) VALUES (",
    );
    sql.bind_list([
        Some(job.id.to_string()),
        Some(job.module_id.to_string()),
        Some(job.status.as_str().to_string()),
        Some(job.processing_mode.as_str().to_string()),
        job.file_name.map(str::to_string),
        job.file_type.map(str::to_string),
        job.file_path.map(str::to_string),
        job.source_options.map(|v| v.to_string()),
        job.lease.map(|l| l.worker_id.clone()),
    ]);
    sql.push(", ")
        .bind(job.lease.map(|l| l.expiry(now)))
        .push(", ")
        .bind(job.lease.map(|_| now));
    let p = sql.arg(job.options.to_string());
    let started = (job.status == JobStatus::Processing).then_some(now);
    sql.push(", ")
        .push(&dialect.json_param(&p))
        .push(", ")
        .bind_list([job.total_rows as i64, now])
        .push(", ")
        .bind(started)
        .push(", ")
        .bind(now + JOB_RETENTION_MICROS)
        .push(", ")
        .bind_list([job.actor.user_id.clone(), job.actor.display_name.clone()])
        .push(")");
    store.execute(sql).await?;
    Ok(())
}

/// What the writer saves with each batch, in the batch's transaction.
pub(crate) struct Checkpoint<'a> {
    pub counters: &'a Counters,
    /// Errors reported since the last checkpoint, and the position of the first of them in the
    /// job's error list.
    pub new_errors: &'a [RowError],
    pub first_error_seq: usize,
    pub reference_warnings: &'a [ReferenceWarning],
    /// The lease the writer holds (queued jobs); the checkpoint fails with
    /// [`Error::LeaseLost`] when another worker holds the job now, which rolls the batch back.
    pub lease: Option<&'a Lease>,
}

/// Whether cancel was asked for, as the batch's transaction saw it.
pub(crate) struct CheckpointSeen {
    pub cancel_requested: bool,
}

/// The checkpoint: counters (rows consumed from the source), new errors and reference warnings,
/// written in each batch's transaction. It renews the lease of a queued job and fences it: a
/// worker that lost its lease cannot commit a batch.
pub(crate) async fn checkpoint(
    tx: &mut Tx,
    job_id: &str,
    point: Checkpoint<'_>,
) -> Result<CheckpointSeen> {
    let counters = point.counters;
    let now = now_micros();
    let mut sql = Sql::new("UPDATE import_jobs SET processed_rows = ");
    sql.bind(counters.processed_rows as i64)
        .push(", created_rows = ")
        .bind(counters.created_rows as i64)
        .push(", updated_rows = ")
        .bind(counters.updated_rows as i64)
        .push(", unchanged_rows = ")
        .bind(counters.unchanged_rows as i64)
        .push(", skipped_rows = ")
        .bind(counters.skipped_rows as i64)
        .push(", error_rows = ")
        .bind(counters.error_rows as i64);
    let p = sql.arg(json!(point.reference_warnings).to_string());
    sql.push(&format!(
        ", reference_warnings = {}",
        tx.dialect().json_param(&p)
    ));
    if let Some(lease) = point.lease {
        sql.push(", heartbeat_at = ")
            .bind(now)
            .push(", lease_expires_at = ")
            .bind(lease.expiry(now));
    }
    sql.push(" WHERE id = ").bind(job_id);
    if let Some(lease) = point.lease {
        sql.push(" AND worker_id = ")
            .bind(lease.worker_id.clone())
            .push(" AND status = 'processing'");
    }
    sql.push(" RETURNING cancel_requested");
    let Some(row) = tx.fetch_optional(sql).await? else {
        return Err(Error::LeaseLost {
            job_id: job_id.to_string(),
        });
    };
    let mut seq = point.first_error_seq;
    for page in statement_pages(point.new_errors, 256) {
        let mut sql = Sql::new("INSERT INTO import_job_errors (job_id, seq, error) VALUES ");
        for (i, error) in page.iter().enumerate() {
            if i > 0 {
                sql.push(", ");
            }
            let text = serde_json::to_string(error).map_err(|e| Error::json("row error", e))?;
            sql.push("(")
                .bind(job_id)
                .push(", ")
                .bind(seq as i64)
                .push(", ")
                .bind(text)
                .push(")");
            seq += 1;
        }
        tx.execute(sql).await?;
    }
    Ok(CheckpointSeen {
        cancel_requested: row.int("cancel_requested")? != 0,
    })
}

/// The errors a job saved so far, in order (what a resumed job starts from).
pub(crate) async fn saved_errors(store: &Store, job_id: &str) -> Result<Vec<RowError>> {
    let mut sql = Sql::new("SELECT error FROM import_job_errors WHERE job_id = ");
    sql.bind(job_id).push(" ORDER BY seq");
    store
        .fetch_all(sql)
        .await?
        .iter()
        .map(|row| parse_stored_json(&row.text("error")?))
        .collect()
}

/// Ends a job: its status, report and completion time.
pub(crate) async fn finish_job(
    store: &Store,
    job_id: &str,
    status: JobStatus,
    errors: &[RowError],
    warnings: &[ReferenceWarning],
    failure: Option<String>,
) -> Result<()> {
    let dialect = store.dialect();
    let mut sql = Sql::new("UPDATE import_jobs SET status = ");
    sql.bind(status.as_str());
    for (column, value) in [
        ("errors", json!(errors)),
        ("reference_warnings", json!(warnings)),
    ] {
        let p = sql.arg(value.to_string());
        sql.push(&format!(", {column} = {}", dialect.json_param(&p)));
    }
    sql.push(", failure = ")
        .bind(failure)
        .push(", completed_at = ")
        .bind(now_micros())
        .push(" WHERE id = ")
        .bind(job_id);
    store.execute(sql).await?;
    Ok(())
}

/// A ledger line: a record the job created or updated.
pub(crate) struct LedgerEntry {
    pub record_id: String,
    pub module_id: String,
    pub created: bool,
    /// The record before the job's first change (updates only).
    pub before: Option<Draft>,
    pub after_version: i64,
}

/// Appends ledger lines. A record seen again keeps its first before-image (and its `created`
/// action) and only moves its `after_version`, so rollback goes back to the state before the job.
pub(crate) async fn write_ledger(tx: &mut Tx, job_id: &str, entries: &[LedgerEntry]) -> Result<()> {
    let dialect = tx.dialect();
    for page in statement_pages(entries, 256) {
        let mut sql = Sql::new(
            "INSERT INTO import_ledger (job_id, record_id, action, module_id, before, \
             after_version) VALUES ",
        );
        for (i, entry) in page.iter().enumerate() {
            if i > 0 {
                sql.push(", ");
            }
            sql.push("(").bind_list([
                Some(job_id.to_string()),
                Some(entry.record_id.clone()),
                Some(if entry.created { "created" } else { "updated" }.to_string()),
                Some(entry.module_id.clone()),
            ]);
            let before = entry
                .before
                .as_ref()
                .map(|d| serde_json::to_string(d).unwrap_or_default());
            let p = sql.arg(before);
            sql.push(", ")
                .push(&dialect.json_param(&p))
                .push(", ")
                .bind(entry.after_version)
                .push(")");
        }
        sql.push(
            " ON CONFLICT (job_id, record_id) DO UPDATE SET after_version = excluded.after_version",
        );
        tx.execute(sql).await?;
    }
    Ok(())
}

fn job_columns(dialect: Dialect) -> String {
    format!(
        "id, module_id, status, processing_mode, file_name, file_type, {} AS options, total_rows, \
         processed_rows, created_rows, updated_rows, unchanged_rows, skipped_rows, error_rows, \
         {} AS errors, {} AS reference_warnings, failure, rollback, created_at, started_at, \
         completed_at, expires_at, created_by_user_id, created_by_display_name, file_path, \
         source_options, worker_id, attempts, cancel_requested",
        dialect.json_column("options"),
        dialect.json_column("errors"),
        dialect.json_column("reference_warnings"),
    )
}

fn job_from_row(row: &Row) -> Result<ImportJob> {
    let options: Value = parse_stored_json(&row.text("options")?)?;
    let option_text = |name: &str, default: &str| {
        options
            .get(name)
            .and_then(Value::as_str)
            .unwrap_or(default)
            .to_string()
    };
    let counters = Counters {
        processed_rows: row.int("processed_rows")? as u64,
        created_rows: row.int("created_rows")? as u64,
        updated_rows: row.int("updated_rows")? as u64,
        unchanged_rows: row.int("unchanged_rows")? as u64,
        skipped_rows: row.int("skipped_rows")? as u64,
        error_rows: row.int("error_rows")? as u64,
    };
    let mode: ProcessingMode = serde_json::from_value(Value::String(row.text("processing_mode")?))
        .map_err(|e| Error::json("stored processing mode", e))?;
    let started_at = row.opt_int("started_at")?;
    let completed_at = row.opt_int("completed_at")?;
    let rows_per_second = started_at.and_then(|start| {
        let end = completed_at.unwrap_or_else(now_micros);
        let seconds = (end - start) as f64 / 1e6;
        (seconds > 0.0).then(|| (counters.processed_rows as f64 / seconds).round())
    });
    Ok(ImportJob {
        import_job_id: row.text("id")?,
        module_id: row.text("module_id")?,
        status: JobStatus::parse(&row.text("status")?)?,
        processing_mode: mode,
        file_name: row.opt_text("file_name")?,
        file_type: row.opt_text("file_type")?,
        total_rows: row.int("total_rows")? as u64,
        processed_rows: counters.processed_rows,
        success_rows: counters.success_rows(),
        created_rows: counters.created_rows,
        updated_rows: counters.updated_rows,
        unchanged_rows: counters.unchanged_rows,
        error_rows: counters.error_rows,
        skipped_rows: counters.skipped_rows,
        rows_per_second,
        worker_id: row.opt_text("worker_id")?,
        attempts: row.int("attempts")? as u64,
        cancel_requested: row.int("cancel_requested")? != 0,
        ai_mapping_used: options
            .get("aiMappingUsed")
            .and_then(Value::as_bool)
            .unwrap_or(false),
        duplicate_strategy: option_text("duplicateStrategy", "skip"),
        merge_mode: option_text("mergeMode", "prefer_import"),
        duplicate_match_fields: options
            .get("duplicateMatchFields")
            .and_then(|v| serde_json::from_value(v.clone()).ok())
            .unwrap_or_default(),
        errors: parse_stored_json(&row.text("errors")?)?,
        reference_warnings: parse_stored_json(&row.text("reference_warnings")?)?,
        failure: row.opt_text("failure")?,
        rollback: row
            .opt_text("rollback")?
            .map(|text| parse_stored_json(&text))
            .transpose()?,
        created_by_user_id: row.opt_text("created_by_user_id")?,
        created_date_time: format_micros(row.int("created_at")?),
        started_date_time: started_at.map(format_micros),
        completed_date_time: completed_at.map(format_micros),
        expires_date_time: format_micros(row.int("expires_at")?),
    })
}

/// The jobs of a module, newest first; `limit` is clamped to 1..=100 (spec 002, default 50).
pub async fn list_jobs(
    store: &Store,
    modules: &ModuleRegistry,
    module: &str,
    limit: Option<i64>,
) -> Result<Vec<ImportJob>> {
    let module = modules.get(module).await?;
    let mut sql = Sql::new(format!(
        "SELECT {} FROM import_jobs WHERE module_id = ",
        job_columns(store.dialect())
    ));
    sql.bind(module.id.clone())
        .push(" ORDER BY created_at DESC, id DESC LIMIT ")
        .bind(limit.unwrap_or(50).clamp(1, 100));
    store
        .fetch_all(sql)
        .await?
        .iter()
        .map(job_from_row)
        .collect()
}

pub async fn get_job(
    store: &Store,
    modules: &ModuleRegistry,
    module: &str,
    job_id: &str,
) -> Result<ImportJob> {
    let module = modules.get(module).await?;
    let mut sql = Sql::new(format!(
        "SELECT {} FROM import_jobs WHERE id = ",
        job_columns(store.dialect())
    ));
    sql.bind(job_id)
        .push(" AND module_id = ")
        .bind(module.id.clone());
    match store.fetch_optional(sql).await? {
        Some(row) => job_from_row(&row),
        None => Err(Error::not_found("import job", job_id)),
    }
}

/// A queued job as a worker needs it: the job, and what it takes to run it again.
pub(crate) struct QueuedJob {
    pub job: ImportJob,
    pub module_slug: String,
    pub file_path: Option<String>,
    pub source_options: Option<Value>,
    pub request: Value,
    pub actor: Actor,
}

pub(crate) async fn load_queued(store: &Store, job_id: &str) -> Result<QueuedJob> {
    let mut sql = Sql::new(format!(
        "SELECT {}, (SELECT slug FROM modules WHERE modules.id = import_jobs.module_id) AS \
         module_slug FROM import_jobs WHERE id = ",
        job_columns(store.dialect())
    ));
    sql.bind(job_id);
    let row = store
        .fetch_optional(sql)
        .await?
        .ok_or_else(|| Error::not_found("import job", job_id))?;
    Ok(QueuedJob {
        job: job_from_row(&row)?,
        module_slug: row.text("module_slug")?,
        file_path: row.opt_text("file_path")?,
        source_options: row
            .opt_text("source_options")?
            .map(|text| parse_stored_json(&text))
            .transpose()?,
        request: parse_stored_json(&row.text("options")?)?,
        actor: Actor::new(
            row.opt_text("created_by_user_id")?.unwrap_or_default(),
            row.opt_text("created_by_display_name")?.unwrap_or_default(),
        ),
    })
}

/// The counters a job row holds.
pub(crate) fn counters_of(job: &ImportJob) -> Counters {
    Counters {
        processed_rows: job.processed_rows,
        created_rows: job.created_rows,
        updated_rows: job.updated_rows,
        unchanged_rows: job.unchanged_rows,
        skipped_rows: job.skipped_rows,
        error_rows: job.error_rows,
    }
}

/// Sets a job's total once a worker has counted its file.
pub(crate) async fn set_total(store: &Store, job_id: &str, total_rows: u64) -> Result<()> {
    let mut sql = Sql::new("UPDATE import_jobs SET total_rows = ");
    sql.bind(total_rows as i64)
        .push(", processing_mode = ")
        .bind(ProcessingMode::for_rows(total_rows).as_str())
        .push(" WHERE id = ")
        .bind(job_id);
    store.execute(sql).await?;
    Ok(())
}

/// Cancels a job: a pending one at once (status `cancelled`); a processing one stops at its next
/// batch, where its worker rolls back what it wrote and marks it `cancelled`. Finished jobs are a
/// conflict (roll them back instead).
pub async fn cancel(
    store: &Store,
    modules: &ModuleRegistry,
    module: &str,
    job_id: &str,
) -> Result<ImportJob> {
    loop {
        let job = get_job(store, modules, module, job_id).await?;
        let mut sql = Sql::new("UPDATE import_jobs SET ");
        match job.status {
            JobStatus::Pending => {
                let outcome = serde_json::to_string(&RollbackOutcome::default())
                    .map_err(|e| Error::json("rollback outcome", e))?;
                sql.push("status = ")
                    .bind(JobStatus::Cancelled.as_str())
                    .push(", completed_at = ")
                    .bind(now_micros())
                    .push(", rollback = ")
                    .bind(outcome);
            }
            JobStatus::Processing => {
                sql.push("cancel_requested = 1");
            }
            other => {
                return Err(Error::Conflict {
                    message: format!(
                        "import job {job_id} is {}: only pending or processing jobs can be \
                         cancelled (roll a completed job back instead)",
                        other.as_str()
                    ),
                    details: json!({ "importJobId": job_id, "status": other }),
                });
            }
        }
        // The status is checked again in the statement: a worker may have claimed or finished
        // the job since it was read, and then the request is decided again.
        sql.push(" WHERE id = ")
            .bind(job_id)
            .push(" AND status = ")
            .bind(job.status.as_str());
        if store.execute(sql).await? > 0 {
            return get_job(store, modules, module, job_id).await;
        }
    }
}

/// Marks a job cancelled after its worker rolled it back.
pub(crate) async fn finish_cancelled(
    store: &Store,
    job_id: &str,
    outcome: &RollbackOutcome,
) -> Result<()> {
    let mut sql = Sql::new("UPDATE import_jobs SET status = ");
    sql.bind(JobStatus::Cancelled.as_str())
        .push(", completed_at = ")
        .bind(now_micros())
        .push(", rollback = ")
        .bind(serde_json::to_string(outcome).map_err(|e| Error::json("rollback outcome", e))?)
        .push(" WHERE id = ")
        .bind(job_id);
    store.execute(sql).await?;
    Ok(())
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
        // The process running it died (its lease ran out): undo it like a failed job.
        let outcome = undo_ledger(store, modules, job_id, actor).await?;
        finish_cancelled(store, job_id, &outcome).await?;
        return Ok(outcome);
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
        .bind(serde_json::to_string(&outcome).map_err(|e| Error::json("rollback outcome", e))?)
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

/// Walks a job's ledger and undoes it (see [`rollback`]); also used when a job fails half-way.
///
/// Created records go first, then updated ones: an updated record may need back a unique value
/// that a record the job created, or another record it updated, holds now. A restore refused for
/// such a value is tried again once the rest of the ledger is undone, as long as that makes
/// progress; a restore still refused is reported as a conflict.
pub(crate) async fn undo_ledger(
    store: &Store,
    modules: &ModuleRegistry,
    job_id: &str,
    actor: &Actor,
) -> Result<RollbackOutcome> {
    let mut outcome = RollbackOutcome::default();
    let o = &mut outcome;
    undo_entries(store, modules, job_id, "created", None, actor, o).await?;
    let mut refused = undo_entries(store, modules, job_id, "updated", None, actor, o).await?;
    while !refused.is_empty() {
        let mut still = Vec::new();
        for c in &refused {
            let only = Some(c.record_id.as_str());
            still.extend(undo_entries(store, modules, job_id, "updated", only, actor, o).await?);
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

/// An updated record to set back to its before-image.
struct Restore {
    module_slug: String,
    current: Record,
    before: Draft,
}

/// `restores` grouped by module, each group in ledger order.
fn by_module(restores: Vec<Restore>) -> Vec<(String, Vec<Restore>)> {
    let mut groups: Vec<(String, Vec<Restore>)> = Vec::new();
    for restore in restores {
        match groups
            .iter_mut()
            .find(|(slug, _)| *slug == restore.module_slug)
        {
            Some((_, group)) => group.push(restore),
            None => groups.push((restore.module_slug.clone(), vec![restore])),
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
    let mut fields_changed: Vec<bool> = Vec::new();
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
    let mut index = KeyIndex::load(tx, &module.id, &wanted).await?;
    let mut external_ids = ExternalIds::default();
    for (restore, changes, keys) in planned {
        let Restore {
            current, before, ..
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
        written.push(Written {
            id: current.id,
            draft: before,
            keys,
            version,
            versions: vec![(version, Value::Object(changes))],
        });
        fields_changed.push(changed_fields);
    }
    let all: Vec<&Written> = written.iter().collect();
    let now = now_micros();
    batch_write::update_records(tx, module, &all, actor, now).await?;
    batch_write::insert_versions(tx, &all, actor, now).await?;
    let rekeyed: Vec<&Written> = written
        .iter()
        .zip(&fields_changed)
        .filter(|(_, changed)| **changed)
        .map(|(w, _)| w)
        .collect();
    batch_write::replace_keys(tx, module, &rekeyed, true).await?;
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

/// Undoes the ledger entries of one action (or only the one for record `only`); returns the
/// restores refused because a unique value is taken.
async fn undo_entries(
    store: &Store,
    modules: &ModuleRegistry,
    job_id: &str,
    action: &str,
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
            "SELECT l.record_id AS ledger_record_id, l.action, l.module_id AS ledger_module_id, \
             {} AS before_image, l.after_version, m.slug AS module_slug, {} \
             FROM import_ledger l JOIN modules m ON m.id = l.module_id \
             LEFT JOIN records r ON r.id = l.record_id \
             WHERE l.job_id = ",
            dialect.json_column("l.before"),
            record_columns(dialect),
        ));
        sql.bind(job_id).push(" AND l.action = ").bind(action);
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
        let mut to_delete = Vec::new();
        let mut undone = Vec::new();
        let mut restores = Vec::new();
        for row in &rows {
            let record_id = row.text("ledger_record_id")?;
            after = record_id.clone();
            let after_version = row.int("after_version")?;
            let current = match row.opt_text("id")? {
                Some(_) => Some(record_from_row(row, &row.text("module_slug")?)?),
                None => None,
            };
            let Some(current) = current else {
                outcome.conflicts.push(RollbackConflict {
                    record_id,
                    reason: "the record no longer exists".into(),
                });
                continue;
            };
            if current.version != after_version || current.deleted_date_time.is_some() {
                outcome.conflicts.push(RollbackConflict {
                    record_id,
                    reason: format!(
                        "the record changed after the import (version {} now, {} when the import \
                         left it{})",
                        current.version,
                        after_version,
                        if current.deleted_date_time.is_some() {
                            "; it is in the trash"
                        } else {
                            ""
                        }
                    ),
                });
                continue;
            }
            if row.text("action")? == "created" {
                to_delete.push(record_id);
                continue;
            }
            let before: Draft = match row.opt_text("before_image")? {
                Some(text) => parse_stored_json(&text)?,
                None => {
                    return Err(Error::json(
                        "import ledger",
                        serde_json::Error::io(std::io::Error::other(format!(
                            "no before-image for updated record {record_id}"
                        ))),
                    ));
                }
            };
            restores.push(Restore {
                module_slug: row.text("module_slug")?,
                current,
                before,
            });
        }
        for (module_slug, page) in by_module(restores) {
            let module = modules.get(&module_slug).await?;
            let restored = restore_records(&mut tx, &module, page, actor, &mut refused).await?;
            outcome.restored_count += restored.len() as u64;
            undone.extend(restored);
        }
        if !to_delete.is_empty() {
            let mut filter = Sql::new("id IN (");
            filter.bind_list(to_delete.iter().cloned()).push(")");
            outcome.deleted_count += purge_where(&mut tx, filter).await?;
            undone.extend(to_delete);
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
