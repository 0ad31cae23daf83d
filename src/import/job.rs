//! Import jobs (spec 002): the stored row of every execute — insert, checkpoint, finish, list,
//! get, cancel — and what a queued job carries to its worker.
//!
//! The writer checkpoints a job's counters and errors in the same transaction as each batch, so a
//! job row never claims rows that are not in the store. What rollback needs is elsewhere: the
//! records a job created name it (`records.created_by_job`), and the ledger ([`super::ledger`])
//! keeps the old values of what it updated; [`super::rollback`] undoes both.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::error::{Error, Result};
use crate::import::execute::ImportRequest;
use crate::import::merge::{DuplicateStrategy, MergeMode};
use crate::import::report::RowError;
use crate::import::report::{Counters, ReferenceWarning};
use crate::import::rollback::RollbackOutcome;
use crate::jobs::Lease;
use crate::records::Actor;
use crate::records::model::parse_stored_json;
use crate::schema::registry::ModuleRegistry;
use crate::store::{Dialect, Row, Sql, Store, Tx, format_micros, now_micros, statement_pages};
use crate::webhooks::{EventKind, outbox};

/// Spec 002: jobs are kept for a week (the example's `expiresDateTime` is created + 7 days).
pub const JOB_RETENTION_MICROS: i64 = 7 * 24 * 3600 * 1_000_000;

pub use crate::jobs::JobStatus;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProcessingMode {
    Sync,
    Stream,
    Background,
}

impl ProcessingMode {
    /// Spec 002: an import of up to this many rows runs in the request (`sync`).
    pub const SYNC_MAX_ROWS: u64 = 5_000;
    /// Spec 002: up to this many rows a queued import is `stream`, above it `background`.
    pub const STREAM_MAX_ROWS: u64 = 50_000;

    /// Spec 002: up to 5,000 rows sync, up to 50,000 stream, background above.
    pub fn for_rows(rows: u64) -> ProcessingMode {
        match rows {
            0..=Self::SYNC_MAX_ROWS => ProcessingMode::Sync,
            _ if rows <= Self::STREAM_MAX_ROWS => ProcessingMode::Stream,
            _ => ProcessingMode::Background,
        }
    }

    /// Whether an import of this mode runs in the caller's request rather than on a worker.
    pub fn runs_in_request(self) -> bool {
        self == ProcessingMode::Sync
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ProcessingMode::Sync => "sync",
            ProcessingMode::Stream => "stream",
            ProcessingMode::Background => "background",
        }
    }
}

/// An import job as spec 002's job status shows it, with the counters split further.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ImportJob {
    pub import_job_id: String,
    /// The account the store holds (one store, one account).
    pub account_id: String,
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
    /// The job failed or was cancelled and what it wrote is being undone: it stays `processing`
    /// (and claimable by a worker should its runner die) until its ledger is empty, then becomes
    /// `failed` or `cancelled`.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub undo_pending: bool,
    pub ai_mapping_used: bool,
    pub duplicate_strategy: DuplicateStrategy,
    pub merge_mode: MergeMode,
    pub duplicate_match_fields: Vec<String>,
    pub errors: Vec<RowError>,
    pub reference_warnings: Vec<ReferenceWarning>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rollback: Option<RollbackOutcome>,
    pub created_by_user_id: Option<String>,
    /// The member the import runs for: its records are theirs, and it matches only records they
    /// may see.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub member_id: Option<String>,
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
    /// The member the import runs for (None: the administrator).
    pub member_id: Option<&'a str>,
}

pub(crate) async fn insert_job(store: &Store, job: NewJob<'_>) -> Result<()> {
    let now = now_micros();
    let dialect = store.dialect();
    let mut sql = Sql::new(
        "INSERT INTO import_jobs (id, module_id, status, processing_mode, file_name, file_type, \
         file_path, source_options, worker_id, lease_expires_at, heartbeat_at, options, \
         total_rows, created_at, started_at, expires_at, created_by_user_id, \
         created_by_display_name, member_id) VALUES (",
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
        .push(", ")
        .bind(job.member_id.map(str::to_string))
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
            let text = serde_json::to_string(error)
                .map_err(|e| Error::internal(format!("row error as JSON: {e}")))?;
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
        .fetch_mapped(sql, |row| parse_stored_json(&row.text("error")?))
        .await
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
    // The job's event commits with its end; a job failed twice (its undo failed too) tells once.
    let mut tx = store.begin().await?;
    let mut before = Sql::new("SELECT status FROM import_jobs WHERE id = ");
    before.bind(job_id);
    let was = tx.fetch_optional(before).await?;
    tx.execute(sql).await?;
    let event = match status {
        JobStatus::Completed => Some(EventKind::ImportCompleted),
        JobStatus::Failed => Some(EventKind::ImportFailed),
        _ => None,
    };
    let changed = was
        .map(|row| row.text("status"))
        .transpose()?
        .is_some_and(|was| was != status.as_str());
    if let Some(event) = event.filter(|_| changed) {
        let mut load = Sql::new(format!(
            "SELECT {} FROM import_jobs WHERE id = ",
            job_columns(dialect)
        ));
        load.bind(job_id);
        if let Some(row) = tx.fetch_optional(load).await? {
            let job = job_from_row(&row)?;
            let member = job.member_id.clone();
            outbox::emit(&mut tx, event, member.as_deref(), || json!({ "job": job })).await?;
        }
    }
    tx.commit().await
}

fn job_columns(dialect: Dialect) -> String {
    format!(
        "id, module_id, status, processing_mode, file_name, file_type, {} AS options, total_rows, \
         processed_rows, created_rows, updated_rows, unchanged_rows, skipped_rows, error_rows, \
         {} AS errors, {} AS reference_warnings, failure, rollback, created_at, started_at, \
         completed_at, expires_at, created_by_user_id, created_by_display_name, file_path, \
         source_options, worker_id, attempts, cancel_requested, undo_pending, member_id, \
         (SELECT a.id FROM account a) AS account_id",
        dialect.json_column("options"),
        dialect.json_column("errors"),
        dialect.json_column("reference_warnings"),
    )
}

fn job_from_row(row: &Row) -> Result<ImportJob> {
    let id = row.text("id")?;
    let options: ImportRequest = serde_json::from_value(parse_stored_json(&row.text("options")?)?)
        .map_err(|e| Error::corrupt(format!("import job {id}: stored request: {e}")))?;
    let counters = Counters {
        processed_rows: row.int("processed_rows")? as u64,
        created_rows: row.int("created_rows")? as u64,
        updated_rows: row.int("updated_rows")? as u64,
        unchanged_rows: row.int("unchanged_rows")? as u64,
        skipped_rows: row.int("skipped_rows")? as u64,
        error_rows: row.int("error_rows")? as u64,
    };
    let mode: ProcessingMode = serde_json::from_value(Value::String(row.text("processing_mode")?))
        .map_err(|e| Error::corrupt(format!("stored processing mode: {e}")))?;
    let started_at = row.opt_int("started_at")?;
    let completed_at = row.opt_int("completed_at")?;
    let rows_per_second = started_at.and_then(|start| {
        let end = completed_at.unwrap_or_else(now_micros);
        let seconds = (end - start) as f64 / 1e6;
        (seconds > 0.0).then(|| (counters.processed_rows as f64 / seconds).round())
    });
    Ok(ImportJob {
        import_job_id: id,
        account_id: row.text("account_id")?,
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
        undo_pending: row.opt_text("undo_pending")?.is_some(),
        ai_mapping_used: options.ai_mapping_used,
        duplicate_strategy: options.duplicate_strategy,
        merge_mode: options.merge_mode,
        duplicate_match_fields: options.duplicate_match_fields,
        errors: parse_stored_json(&row.text("errors")?)?,
        reference_warnings: parse_stored_json(&row.text("reference_warnings")?)?,
        failure: row.opt_text("failure")?,
        rollback: row
            .opt_text("rollback")?
            .map(|text| parse_stored_json(&text))
            .transpose()?,
        created_by_user_id: row.opt_text("created_by_user_id")?,
        member_id: row.opt_text("member_id")?,
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
    store.fetch_mapped(sql, job_from_row).await
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
                    .map_err(|e| Error::internal(format!("rollback outcome as JSON: {e}")))?;
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
