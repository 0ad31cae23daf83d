//! Export jobs (spec 002): exports too large to hand over directly, or asked for as jobs, run in
//! the background and leave a file that can be fetched for 24 hours.
//!
//! In: a module slug and an [`ExportRequest`] ([`create_job`]), a job id ([`run_job`], which
//! runs it in this process; workers claim jobs from the queue, see [`crate::worker`], and run
//! them with the same [`process_job`]). Out: [`ExportJob`]s in the spec's shape.
//!
//! Guarantees: a request is checked before its row is written, so a bad request is a validation
//! error and never a failed job. Export jobs have one claim protocol, the queue's
//! ([`crate::jobs`]): `pending → processing` in one conditional update that records the runner's
//! lease, which a heartbeat renews. Every later write to the job row is fenced by that lease, and
//! the heartbeat's lost flag is read after each page, so a runner that lost its lease (it stalled
//! and another runner took the job over) stops writing, removes its own files and neither
//! completes nor fails the job. Each claim writes its own file, under a temporary name renamed
//! when complete, so a kept file is always whole and is the one the completing runner wrote; a
//! failed or cancelled job keeps no file; expired files are deleted by a sweep that runs whenever
//! jobs are created or read.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde::Serialize;

use super::{DEFAULT_PAGE_SIZE, ExportFormat, ExportRequest, prepare};
use crate::error::{Error, Result};
use crate::jobs::{self, Claimed, JobTable, Lease, spawn_heartbeat};
use crate::store::{Row, Sql, Store, format_micros, new_id, now_micros};
use crate::webhooks::{EventKind, outbox};
use serde_json::json;

/// Where job files are kept, and for how long.
#[derive(Debug, Clone)]
pub struct ExportSettings {
    /// The directory of finished job files (created when missing).
    pub dir: PathBuf,
    /// How long a finished file is kept (spec 002: 24 hours).
    pub retention: chrono::Duration,
    /// The lease of a job run by [`run_job`] in this process: another runner may take the job
    /// over when no heartbeat renewed it for this long (a worker holds its jobs under its own
    /// lease).
    pub lease: Duration,
}

/// The default [`ExportSettings::lease`], as long as a foreground import's.
pub const DEFAULT_LEASE: Duration = Duration::from_secs(60);

/// The default directory for job files: `exports` in the working directory, beside the CLI's
/// default database file.
pub const DEFAULT_EXPORT_DIR: &str = "exports";

impl Default for ExportSettings {
    fn default() -> Self {
        ExportSettings {
            dir: PathBuf::from(DEFAULT_EXPORT_DIR),
            retention: chrono::Duration::hours(24),
            lease: DEFAULT_LEASE,
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
    /// The account the store holds (one store, one account).
    pub account_id: String,
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

const JOB_COLUMNS: &str = "j.id, j.module_id, m.slug AS module_slug, j.format, j.status, j.member_id, \
    j.options, j.total_records, j.processed_records, j.progress, j.file_name, j.file_path, \
    j.file_size_bytes, j.content_type, j.error, j.requested_at, j.completed_at, j.expires_at, \
    (SELECT a.id FROM account a) AS account_id";

fn job_from_row(row: &Row) -> Result<ExportJob> {
    let format = ExportFormat::parse(&row.text("format")?)?;
    let config = serde_json::from_str(&row.text("options")?)
        .map_err(|e| Error::corrupt(format!("stored export job options: {e}")))?;
    let count =
        |name: &str| -> Result<Option<u64>> { Ok(row.opt_int(name)?.map(|n| n.max(0) as u64)) };
    Ok(ExportJob {
        export_job_id: row.text("id")?,
        account_id: row.text("account_id")?,
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
        request: ExportRequest {
            format,
            config,
            member_id: row.opt_text("member_id")?,
        },
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
         requested_by_user_id, member_id, requested_at) VALUES (",
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
    .bind(request.member_id.clone())
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
    store.fetch_mapped(sql, job_from_row).await
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

/// Claims a pending job for this process and runs it here, under a lease of this process (the
/// queue's one claim, [`crate::jobs::claim`]); see [`process_job`]. A conflict when the job is
/// not pending (another runner has it, or it has ended).
pub async fn run_job(
    store: &Store,
    settings: &ExportSettings,
    id: &str,
    progress: impl FnMut(u64, u64),
) -> Result<ExportJob> {
    let lease = Lease::new(jobs::process_lease_id("export"), settings.lease);
    let Some(claimed) = jobs::claim(store, JobTable::Export, id, &lease).await? else {
        let job = load(store, id).await?;
        return Err(Error::Conflict {
            message: format!("export job {id} is {}, not pending", job.status.as_str()),
            details: serde_json::json!({ "exportJobId": id, "status": job.status.as_str() }),
        });
    };
    // A pending job: its claims so far all ended (none was cut short), so no limit applies.
    process_job(store, settings, &claimed, &lease, i64::MAX, progress).await
}

/// Progress is written to the job row at most this often.
const PROGRESS_INTERVAL: Duration = Duration::from_millis(500);

/// Runs a job claimed under `lease`: renews the lease while it runs, writes the job's file into
/// the exports directory keeping the row's progress current, and completes the job.
///
/// Every write to the job row is fenced by the lease, and the heartbeat's lost flag is read after
/// each page: a runner whose lease went to another runner stops writing at its next page,
/// removes its own files and returns [`Error::LeaseLost`] without touching the row (the job is
/// the other runner's now). A cancellation seen between pages stops the run and returns the
/// cancelled job. Any other failure marks the job failed (fenced likewise) and is returned.
///
/// A job claimed more than `max_attempts` times (each earlier runner stopped without ending it:
/// a crash, a kill, an export that takes its process down) is failed instead of run again.
/// Whoever ends a job removes the files its earlier claims left behind.
pub(crate) async fn process_job(
    store: &Store,
    settings: &ExportSettings,
    claimed: &Claimed,
    lease: &Lease,
    max_attempts: i64,
    mut progress: impl FnMut(u64, u64),
) -> Result<ExportJob> {
    let lost = Arc::new(AtomicBool::new(false));
    let heartbeat = spawn_heartbeat(
        store.clone(),
        JobTable::Export,
        claimed.id.clone(),
        lease.clone(),
        Arc::clone(&lost),
    );
    let hold = Hold {
        store,
        id: &claimed.id,
        lease,
        lost,
    };
    let outcome = async {
        let job = load(store, &claimed.id).await?;
        if claimed.attempts > max_attempts {
            return Err(Error::validation(format!(
                "export job {} was interrupted {} times; it is not tried again",
                claimed.id,
                claimed.attempts - 1
            )));
        }
        let files = JobFiles::new(settings, &job, claimed.attempts)?;
        let outcome = write_and_complete(&hold, settings, &job, &files, &mut progress).await;
        if !matches!(outcome, Ok(Ended::Completed)) {
            files.discard();
        }
        outcome
    }
    .await;
    heartbeat.abort();
    // The job ends here unless another runner took it over: the files of the claims before this
    // one are nobody's now (their runners stopped, or lost the lease and stop at their next
    // page without renaming or keeping anything).
    if !matches!(outcome, Err(Error::LeaseLost { .. })) {
        discard_earlier_claims(store, settings, &claimed.id, claimed.attempts).await;
    }
    match outcome {
        Ok(_) => load(store, &claimed.id).await,
        // The job is another runner's now: its row is not this runner's to change.
        Err(error @ Error::LeaseLost { .. }) => Err(error),
        Err(error) => {
            let mut sql = Sql::new("UPDATE export_jobs SET status = 'failed', error = ");
            sql.bind(error.to_string())
                .push(", completed_at = ")
                .bind(now_micros())
                .push(" WHERE id = ")
                .bind(claimed.id.clone());
            lease.fence(&mut sql);
            store.execute(sql).await?;
            Err(error)
        }
    }
}

/// How a run that kept its lease ended.
enum Ended {
    Completed,
    Cancelled,
}

/// A runner's hold on its job: the lease that fences the job row's writes, and the flag the
/// heartbeat sets when the lease is gone.
struct Hold<'a> {
    store: &'a Store,
    id: &'a str,
    lease: &'a Lease,
    lost: Arc<AtomicBool>,
}

impl Hold<'_> {
    /// Whether the run may go on, writing `progress` (done, total) to the row when given:
    /// `false` when the job was cancelled, [`Error::LeaseLost`] when another runner holds it.
    async fn still_held(&self, progress: Option<(u64, u64)>) -> Result<bool> {
        let held = if self.lost.load(Ordering::Relaxed) {
            false
        } else if let Some((done, total)) = progress {
            self.update_progress(done, total).await?
        } else {
            true
        };
        if held {
            return Ok(true);
        }
        self.cancelled_or_lost().await?;
        Ok(false)
    }

    /// Why a fenced write changed nothing: `Ok` when the job was cancelled (the heartbeat's fence
    /// fails on a cancel too), [`Error::LeaseLost`] when another runner took the job over.
    async fn cancelled_or_lost(&self) -> Result<()> {
        if load(self.store, self.id).await?.status == JobStatus::Cancelled {
            return Ok(());
        }
        Err(Error::LeaseLost {
            job_id: self.id.to_string(),
        })
    }

    /// Writes the counters; `false` when this runner no longer holds the job.
    async fn update_progress(&self, done: u64, total: u64) -> Result<bool> {
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
            .bind(self.id);
        self.lease.fence(&mut sql);
        Ok(self.store.execute(sql).await? > 0)
    }
}

/// The files of one claim of a job. Each claim has its own (the attempt is in the name): a runner
/// that lost its lease may still be writing when the job's new owner starts, and neither may
/// truncate, rename or remove the other's file.
struct JobFiles {
    dir: PathBuf,
    /// Written while the export runs.
    partial: PathBuf,
    /// The partial file renamed once whole; kept only when the job completes.
    path: PathBuf,
}

impl JobFiles {
    fn new(settings: &ExportSettings, job: &ExportJob, attempt: i64) -> Result<JobFiles> {
        let dir = std::path::absolute(&settings.dir).map_err(|source| Error::Io {
            path: settings.dir.display().to_string(),
            source,
        })?;
        let stem = format!("{}-{attempt}.{}", job.export_job_id, job.format.extension());
        Ok(JobFiles {
            partial: dir.join(format!("{stem}.part")),
            path: dir.join(stem),
            dir,
        })
    }

    /// Removes what a run that did not complete wrote; a failure here must not hide why the run
    /// stopped, so it is only logged.
    fn discard(&self) {
        for path in [&self.partial, &self.path] {
            if let Err(e) = remove_file(path) {
                tracing::warn!("cannot remove an unfinished export file: {e}");
            }
        }
    }
}

/// Removes the files of claims `1..attempt` of job `id`; a failure is logged (the job has ended
/// either way).
async fn discard_earlier_claims(store: &Store, settings: &ExportSettings, id: &str, attempt: i64) {
    let job = match load(store, id).await {
        Ok(job) => job,
        Err(e) => {
            tracing::warn!(job_id = %id, "cannot look up the export job to remove its earlier files: {e}");
            return;
        }
    };
    for earlier in 1..attempt {
        match JobFiles::new(settings, &job, earlier) {
            Ok(files) => files.discard(),
            Err(e) => tracing::warn!(job_id = %id, "cannot name an earlier export file: {e}"),
        }
    }
}

/// Writes the job's file, renames it into place and completes the job, all while the lease holds.
async fn write_and_complete(
    hold: &Hold<'_>,
    settings: &ExportSettings,
    job: &ExportJob,
    files: &JobFiles,
    progress: &mut impl FnMut(u64, u64),
) -> Result<Ended> {
    let Some((records, bytes)) = write_job_file(hold, job, files, progress).await? else {
        return Ok(Ended::Cancelled);
    };
    std::fs::rename(&files.partial, &files.path).map_err(|source| Error::Io {
        path: files.path.display().to_string(),
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
        .bind(files.path.display().to_string())
        .push(", file_size_bytes = ")
        .bind(bytes as i64)
        .push(", completed_at = ")
        .bind(now)
        .push(", expires_at = ")
        .bind(expires)
        .push(" WHERE id = ")
        .bind(hold.id);
    hold.lease.fence(&mut sql);
    // `export.completed` commits with the job's completion, or not at all.
    let mut tx = hold.store.begin().await?;
    if tx.execute(sql).await? == 0 {
        drop(tx);
        // Cancelled, or taken over, while the last page was being written.
        hold.cancelled_or_lost().await?;
        return Ok(Ended::Cancelled);
    }
    let member = job.request.member_id.as_deref();
    outbox::emit(&mut tx, EventKind::ExportCompleted, member, || {
        json!({
            "exportJobId": hold.id,
            "moduleSlug": job.module_slug,
            "format": job.format,
            "totalRecords": records,
            "fileSizeBytes": bytes,
            "completedDateTime": format_micros(now),
        })
    })
    .await?;
    tx.commit().await?;
    Ok(Ended::Completed)
}

/// Writes the job's file to the partial path; `None` when the job was cancelled meanwhile.
async fn write_job_file(
    hold: &Hold<'_>,
    job: &ExportJob,
    files: &JobFiles,
    progress: &mut impl FnMut(u64, u64),
) -> Result<Option<(u64, u64)>> {
    let io = |path: &Path| {
        let path = path.display().to_string();
        move |source| Error::Io { path, source }
    };
    let store = hold.store;
    std::fs::create_dir_all(&files.dir).map_err(io(&files.dir))?;
    let prepared = prepare(store, &job.module_slug, &job.request).await?;
    let file = std::fs::File::create(&files.partial).map_err(io(&files.partial))?;
    let target = files.partial.display().to_string();
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
    if !hold.still_held(Some((0, total))).await? {
        return Ok(None);
    }
    let mut last_update = Instant::now();
    while export.step().await? {
        let done = export.processed();
        progress(done, total);
        let due = last_update.elapsed() >= PROGRESS_INTERVAL;
        if due {
            last_update = Instant::now();
        }
        // The lost flag is read after every page; the row is written (and fenced) now and then.
        if !hold.still_held(due.then_some((done, total))).await? {
            return Ok(None);
        }
    }
    let summary = export.finish().await?;
    Ok(Some((summary.record_count, summary.file_size_bytes)))
}
