//! Export jobs (spec 002): exports too large to hand over directly, or asked for as jobs, run in
//! the background and leave a file that can be fetched for 24 hours.
//!
//! In: a module slug and an [`ExportRequest`] ([`create_job`]), a job id ([`run_job`], or
//! [`claim_job`] / [`claim_next_job`] then [`process_job`] for workers). Out: [`ExportJob`]s in
//! the spec's shape. Guarantees: a request is checked before its row is written, so a bad request
//! is a validation error and never a failed job; a job is claimed by exactly one runner (the
//! `pending → processing` update is conditional); the file is written under a temporary name
//! and renamed when complete, so a kept file is always whole; a failed or cancelled job keeps no
//! file; expired files are deleted by a sweep that runs whenever jobs are created or read.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::Serialize;

use super::{DEFAULT_PAGE_SIZE, ExportFormat, ExportRequest, prepare};
use crate::error::{Error, Result};
use crate::store::{Row, Sql, Store, format_micros, new_id, now_micros};

/// Where job files are kept, and for how long.
#[derive(Debug, Clone)]
pub struct ExportSettings {
    /// The directory of finished job files (created when missing).
    pub dir: PathBuf,
    /// How long a finished file is kept (spec 002: 24 hours).
    pub retention: chrono::Duration,
}

/// The default directory for job files: `exports` in the working directory, beside the CLI's
/// default database file.
pub const DEFAULT_EXPORT_DIR: &str = "exports";

impl Default for ExportSettings {
    fn default() -> Self {
        ExportSettings {
            dir: PathBuf::from(DEFAULT_EXPORT_DIR),
            retention: chrono::Duration::hours(24),
        }
    }
}

impl ExportSettings {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        ExportSettings {
            dir: dir.into(),
            ..ExportSettings::default()
        }
    }
}

pub use crate::jobs::JobStatus;

/// An export job in the shape of spec 002's `GET /export-jobs`, plus the module's slug, the
/// record counts and the failure message. `fileUrl` is the API's to fill; `filePath` is where
/// the file is kept on this machine (absent once expired).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ExportJob {
    pub export_job_id: String,
    /// The module's id.
    pub source_id: String,
    pub source_type: &'static str,
    pub module_slug: String,
    pub format: ExportFormat,
    pub status: JobStatus,
    /// Percent done, 0 to 100.
    pub progress: u8,
    pub total_records: Option<u64>,
    pub processed_records: u64,
    pub file_name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file_path: Option<String>,
    pub file_size_bytes: Option<u64>,
    pub content_type: String,
    pub requested_date_time: String,
    pub completed_date_time: Option<String>,
    pub expires_date_time: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(skip)]
    pub request: ExportRequest,
}

const JOB_COLUMNS: &str = "j.id, j.module_id, m.slug AS module_slug, j.format, j.status, \
    j.options, j.total_records, j.processed_records, j.progress, j.file_name, j.file_path, \
    j.file_size_bytes, j.content_type, j.error, j.requested_at, j.completed_at, j.expires_at";

fn job_from_row(row: &Row) -> Result<ExportJob> {
    let format = ExportFormat::parse(&row.text("format")?)?;
    let config = serde_json::from_str(&row.text("options")?)
        .map_err(|e| Error::corrupt(format!("stored export job options: {e}")))?;
    let count =
        |name: &str| -> Result<Option<u64>> { Ok(row.opt_int(name)?.map(|n| n.max(0) as u64)) };
    Ok(ExportJob {
        export_job_id: row.text("id")?,
        source_id: row.text("module_id")?,
        source_type: "module",
        module_slug: row.text("module_slug")?,
        format,
        status: JobStatus::parse(&row.text("status")?)?,
        progress: row.int("progress")?.clamp(0, 100) as u8,
        total_records: count("total_records")?,
        processed_records: count("processed_records")?.unwrap_or(0),
        file_name: row.text("file_name")?,
        file_url: None,
        file_path: row.opt_text("file_path")?,
        file_size_bytes: count("file_size_bytes")?,
        content_type: row.text("content_type")?,
        requested_date_time: format_micros(row.int("requested_at")?),
        completed_date_time: row.opt_int("completed_at")?.map(format_micros),
        expires_date_time: row.opt_int("expires_at")?.map(format_micros),
        error: row.opt_text("error")?,
        request: ExportRequest { format, config },
    })
}

/// Checks the request and records a pending job for it. Expired job files are swept first.
pub async fn create_job(
    store: &Store,
    module_slug: &str,
    request: &ExportRequest,
    requested_by_user_id: Option<&str>,
) -> Result<ExportJob> {
    sweep_expired(store, now_micros()).await?;
    let prepared = prepare(store, module_slug, request).await?;
    let module = prepared.module();
    let id = new_id("exp");
    let now = now_micros();
    let options = serde_json::to_string(&request.config)
        .map_err(|e| Error::internal(format!("export job options as JSON: {e}")))?;
    let file_name = super::file_name(
        module.slug(),
        request.format,
        chrono::DateTime::from_timestamp_micros(now).unwrap_or_default(),
    );
    let mut sql = Sql::new(
        "INSERT INTO export_jobs (id, module_id, format, status, options, file_name, content_type, \
         requested_by_user_id, requested_at) VALUES (",
    );
    sql.bind_list([
        id.clone(),
        module.id.clone(),
        request.format.as_str().to_string(),
        JobStatus::Pending.as_str().to_string(),
        options,
        file_name,
        request.format.content_type().to_string(),
    ])
    .push(", ")
    .bind(requested_by_user_id.map(str::to_string))
    .push(", ")
    .bind(now)
    .push(")");
    store.execute(sql).await?;
    load(store, &id).await
}

async fn load(store: &Store, id: &str) -> Result<ExportJob> {
    let mut sql = Sql::new(format!(
        "SELECT {JOB_COLUMNS} FROM export_jobs j JOIN modules m ON m.id = j.module_id WHERE j.id = "
    ));
    sql.bind(id);
    match store.fetch_optional(sql).await? {
        Some(row) => job_from_row(&row),
        None => Err(Error::not_found("export job", id)),
    }
}

/// One job; its file is gone (and `filePath` absent) once it has expired.
pub async fn get_job(store: &Store, id: &str) -> Result<ExportJob> {
    sweep_expired(store, now_micros()).await?;
    load(store, id).await
}

/// The newest jobs first, at most `limit` (1 to 100).
pub async fn list_jobs(store: &Store, limit: u32) -> Result<Vec<ExportJob>> {
    sweep_expired(store, now_micros()).await?;
    let mut sql = Sql::new(format!(
        "SELECT {JOB_COLUMNS} FROM export_jobs j JOIN modules m ON m.id = j.module_id \
         ORDER BY j.requested_at DESC, j.id DESC LIMIT "
    ));
    sql.bind(i64::from(limit.clamp(1, 100)));
    store
        .fetch_all(sql)
        .await?
        .iter()
        .map(job_from_row)
        .collect()
}

/// The kept file of a completed job, for download.
pub async fn job_file(store: &Store, id: &str) -> Result<(ExportJob, PathBuf)> {
    let job = get_job(store, id).await?;
    match (&job.status, &job.file_path) {
        (JobStatus::Completed, Some(path)) => {
            let path = PathBuf::from(path);
            Ok((job, path))
        }
        (JobStatus::Completed, None) => Err(Error::not_found("export file (expired)", id)),
        (status, _) => Err(Error::Conflict {
            message: format!("export job {id} is {}, not completed", status.as_str()),
            details: serde_json::json!({ "exportJobId": id, "status": status.as_str() }),
        }),
    }
}

/// Deletes the files of jobs whose retention ended before `now_micros`; returns how many.
pub async fn sweep_expired(store: &Store, now_micros: i64) -> Result<u64> {
    let mut sql = Sql::new(
        "SELECT id, file_path FROM export_jobs WHERE file_path IS NOT NULL AND expires_at < ",
    );
    sql.bind(now_micros);
    let rows = store.fetch_all(sql).await?;
    let mut swept = 0;
    for row in rows {
        let id = row.text("id")?;
        if let Some(path) = row.opt_text("file_path")? {
            remove_file(Path::new(&path))?;
        }
        let mut clear = Sql::new("UPDATE export_jobs SET file_path = NULL WHERE id = ");
        clear.bind(id);
        swept += store.execute(clear).await?;
    }
    Ok(swept)
}

fn remove_file(path: &Path) -> Result<()> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(source) => Err(Error::Io {
            path: path.display().to_string(),
            source,
        }),
    }
}

/// Removes what a job that did not complete wrote; a failure here must not hide why the job
/// stopped, so it is only logged.
fn discard(path: &Path) {
    if let Err(e) = remove_file(path) {
        tracing::warn!("cannot remove the unfinished export file: {e}");
    }
}

/// Stops a pending or running job; a running one stops at its next page and deletes its file.
pub async fn cancel_job(store: &Store, id: &str) -> Result<ExportJob> {
    let mut sql = Sql::new("UPDATE export_jobs SET status = 'cancelled', completed_at = ");
    sql.bind(now_micros())
        .push(" WHERE id = ")
        .bind(id)
        .push(" AND status IN ('pending', 'processing')");
    if store.execute(sql).await? == 0 {
        let job = load(store, id).await?;
        return Err(Error::Conflict {
            message: format!(
                "export job {id} is {} and cannot be cancelled",
                job.status.as_str()
            ),
            details: serde_json::json!({ "exportJobId": id, "status": job.status.as_str() }),
        });
    }
    load(store, id).await
}

/// Takes a pending job for this runner (`pending → processing`); a conflict when another runner
/// has it or it is no longer pending.
pub async fn claim_job(store: &Store, id: &str) -> Result<ExportJob> {
    let mut sql = Sql::new("UPDATE export_jobs SET status = 'processing', started_at = ");
    sql.bind(now_micros())
        .push(" WHERE id = ")
        .bind(id)
        .push(" AND status = 'pending'");
    if store.execute(sql).await? == 0 {
        let job = load(store, id).await?;
        return Err(Error::Conflict {
            message: format!("export job {id} is {}, not pending", job.status.as_str()),
            details: serde_json::json!({ "exportJobId": id, "status": job.status.as_str() }),
        });
    }
    load(store, id).await
}

/// Takes the oldest pending job, if any, for this runner. Runners racing for the same job each
/// try the next one, so every job goes to exactly one of them.
pub async fn claim_next_job(store: &Store) -> Result<Option<ExportJob>> {
    loop {
        let sql = Sql::new(
            "SELECT id FROM export_jobs WHERE status = 'pending' ORDER BY requested_at, id LIMIT 1",
        );
        let Some(row) = store.fetch_optional(sql).await? else {
            return Ok(None);
        };
        match claim_job(store, &row.text("id")?).await {
            Ok(job) => return Ok(Some(job)),
            Err(Error::Conflict { .. }) => continue,
            Err(e) => return Err(e),
        }
    }
}

/// Claims and runs a pending job in this task; see [`process_job`].
pub async fn run_job(
    store: &Store,
    settings: &ExportSettings,
    id: &str,
    progress: impl FnMut(u64, u64),
) -> Result<ExportJob> {
    let job = claim_job(store, id).await?;
    process_job(store, settings, job, progress).await
}

/// Progress is written to the job row at most this often.
const PROGRESS_INTERVAL: Duration = Duration::from_millis(500);

/// Runs a claimed job: writes its file into the exports directory, keeping the row's progress
/// current, and completes it. A failure marks the job failed (and is returned); a cancellation
/// seen between pages stops it and returns the cancelled job.
pub async fn process_job(
    store: &Store,
    settings: &ExportSettings,
    job: ExportJob,
    mut progress: impl FnMut(u64, u64),
) -> Result<ExportJob> {
    let id = job.export_job_id.clone();
    let dir = std::path::absolute(&settings.dir).map_err(|source| Error::Io {
        path: settings.dir.display().to_string(),
        source,
    })?;
    let path = dir.join(format!("{id}.{}", job.format.extension()));
    let partial = dir.join(format!("{id}.{}.part", job.format.extension()));
    match write_job_file(store, &job, &dir, &partial, &mut progress).await {
        Ok(Some((records, bytes))) => {
            std::fs::rename(&partial, &path).map_err(|source| Error::Io {
                path: path.display().to_string(),
                source,
            })?;
            let now = now_micros();
            let expires = now
                + settings
                    .retention
                    .num_microseconds()
                    .unwrap_or(i64::MAX / 2);
            let mut sql = Sql::new("UPDATE export_jobs SET status = 'completed', progress = 100, ");
            sql.push("total_records = ")
                .bind(records as i64)
                .push(", processed_records = ")
                .bind(records as i64)
                .push(", file_path = ")
                .bind(path.display().to_string())
                .push(", file_size_bytes = ")
                .bind(bytes as i64)
                .push(", completed_at = ")
                .bind(now)
                .push(", expires_at = ")
                .bind(expires)
                .push(" WHERE id = ")
                .bind(id.clone())
                .push(" AND status = 'processing'");
            if store.execute(sql).await? == 0 {
                // Cancelled while the last page was being written.
                remove_file(&path)?;
            }
            load(store, &id).await
        }
        Ok(None) => {
            discard(&partial);
            load(store, &id).await
        }
        Err(error) => {
            discard(&partial);
            let mut sql = Sql::new("UPDATE export_jobs SET status = 'failed', error = ");
            sql.bind(error.to_string())
                .push(", completed_at = ")
                .bind(now_micros())
                .push(" WHERE id = ")
                .bind(id.clone())
                .push(" AND status = 'processing'");
            store.execute(sql).await?;
            Err(error)
        }
    }
}

/// Writes the job's file to `partial`; `None` when the job was cancelled meanwhile.
async fn write_job_file(
    store: &Store,
    job: &ExportJob,
    dir: &Path,
    partial: &Path,
    progress: &mut impl FnMut(u64, u64),
) -> Result<Option<(u64, u64)>> {
    let io = |path: &Path| {
        let path = path.display().to_string();
        move |source| Error::Io { path, source }
    };
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let prepared = prepare(store, &job.module_slug, &job.request).await?;
    let file = std::fs::File::create(partial).map_err(io(partial))?;
    let target = partial.display().to_string();
    let mut export = prepared
        .start(
            store,
            Box::new(std::io::BufWriter::with_capacity(256 * 1024, file)),
            &target,
            DEFAULT_PAGE_SIZE,
        )
        .await?;
    let total = export.total();
    progress(0, total);
    if !update_progress(store, &job.export_job_id, 0, total).await? {
        return Ok(None);
    }
    let mut last_update = Instant::now();
    while export.step().await? {
        let done = export.processed();
        progress(done, total);
        if last_update.elapsed() >= PROGRESS_INTERVAL {
            last_update = Instant::now();
            if !update_progress(store, &job.export_job_id, done, total).await? {
                return Ok(None);
            }
        }
    }
    let summary = export.finish().await?;
    Ok(Some((summary.record_count, summary.file_size_bytes)))
}

/// Writes the counters; `false` when the job is no longer processing (cancelled).
async fn update_progress(store: &Store, id: &str, done: u64, total: u64) -> Result<bool> {
    // Never 100 before the file is complete.
    let percent = (done * 100)
        .checked_div(total)
        .map_or(0, |p| p.min(99) as i64);
    let mut sql = Sql::new("UPDATE export_jobs SET total_records = ");
    sql.bind(total as i64)
        .push(", processed_records = ")
        .bind(done as i64)
        .push(", progress = ")
        .bind(percent)
        .push(" WHERE id = ")
        .bind(id)
        .push(" AND status = 'processing'");
    Ok(store.execute(sql).await? > 0)
}
