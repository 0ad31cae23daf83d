//! The import queue: a file submitted as a `pending` job, run later by a worker under a lease,
//! and resumed from its last committed batch when the worker dies.
//!
//! ```text
//! submit ─> pending ─claim (lease)─> processing ─batch tx: records + ledger + checkpoint─> …
//!                         ^                │
//!                         └─ lease ran out ┘   (the worker died: the next claim resumes)
//! ```
//! Each batch commits its records, its ledger lines and the job's checkpoint (rows consumed from
//! the file, counters, errors) in one transaction, fenced by the lease: either all of a batch is
//! in the store and counted, or none of it. A resumed run skips the rows the checkpoint counts and
//! goes on, so every row is written exactly once and the final counters are those of a run that
//! never stopped.

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::import::execute::{
    ImportInput, ImportRequest, PreparedImport, RunOptions, Settled, fail_job, run_leased,
};
use crate::import::job::{self, ImportJob, JobStatus, NewJob, ProcessingMode};
use crate::import::locale::value_options_for;
use crate::import::memory;
use crate::import::pipeline::PipelineOptions;
use crate::import::source::{self, RowNumbers, SourceLimits, SourceOptions};
use crate::import::undo;
use crate::import::writer::{Importer, Resume};
use crate::jobs::{self, Claimed, JobTable, Lease};
use crate::records::{Access, Actor, RecordService};
use crate::schema::value::ValueOptions;
use crate::store::new_id;

/// A file to import in the background.
#[derive(Debug, Clone)]
pub struct Submission {
    pub file: PathBuf,
    /// The name the job shows (default: the file's name).
    pub file_name: Option<String>,
    pub request: ImportRequest,
    pub source: SourceOptions,
    pub actor: Actor,
    /// Copy the file into this directory, so the job does not depend on the caller keeping it
    /// (an upload, a temporary file). `None` keeps the job on the file's own path.
    pub copy_into: Option<PathBuf>,
}

/// Where a queued job keeps its file and who it is for.
#[derive(Debug, Clone)]
pub struct QueueOptions {
    /// The name the job shows (default: the file's name).
    pub file_name: Option<String>,
    pub actor: Actor,
    /// Copy the file into this directory, so the job does not depend on the caller keeping it
    /// (an upload, a temporary file). `None` keeps the job on the file's own path.
    pub copy_into: Option<PathBuf>,
}

/// How to open the file again, as the job row keeps it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct StoredSource {
    max_file_bytes: u64,
    sheet: Option<String>,
    encoding: Option<String>,
    delimiter: Option<char>,
    #[serde(default)]
    row_numbers: RowNumbers,
    /// Absent from jobs queued before it was kept: those read with the default.
    #[serde(default = "default_max_cells")]
    max_cells: u64,
}

fn default_max_cells() -> u64 {
    SourceLimits::default().max_cells
}

impl StoredSource {
    fn from_options(options: &SourceOptions) -> StoredSource {
        StoredSource {
            max_file_bytes: options.limits.max_file_bytes,
            sheet: options.sheet.clone(),
            encoding: options.encoding.clone(),
            delimiter: options.delimiter,
            row_numbers: options.row_numbers,
            max_cells: options.limits.max_cells,
        }
    }

    fn to_options(&self) -> SourceOptions {
        SourceOptions {
            limits: SourceLimits {
                max_file_bytes: self.max_file_bytes,
                max_cells: self.max_cells,
                ..SourceLimits::default()
            },
            sheet: self.sheet.clone(),
            encoding: self.encoding.clone(),
            delimiter: self.delimiter,
            row_numbers: self.row_numbers,
        }
    }
}

/// Checks and counts the file ([`PreparedImport::prepare`]), then queues it: a job that cannot
/// run is refused here.
pub async fn submit(
    service: &RecordService,
    module: &str,
    submission: Submission,
) -> Result<ImportJob> {
    PreparedImport::prepare(
        service,
        module,
        &submission.file,
        submission.request,
        submission.source,
        ValueOptions::default(),
    )
    .await?
    .enqueue(
        service,
        QueueOptions {
            file_name: submission.file_name,
            actor: submission.actor,
            copy_into: submission.copy_into,
        },
    )
    .await
}

/// Stores a prepared import as a `pending` job; the job shows its size and processing mode from
/// the start.
pub(crate) async fn enqueue(
    service: &RecordService,
    prepared: PreparedImport,
    queue: QueueOptions,
) -> Result<ImportJob> {
    let (
        ImportInput {
            module,
            path: file,
            request,
            source,
            ..
        },
        info,
        total_rows,
    ) = prepared.into_parts();
    let id = new_id("job");
    let file_path = match &queue.copy_into {
        Some(dir) => copy_into(&file, dir, &id)?,
        None => absolute(&file)?,
    };
    let store = service.store();
    let as_json = |what: &str, value: serde_json::Result<serde_json::Value>| {
        value.map_err(|e| Error::internal(format!("{what} as JSON: {e}")))
    };
    job::insert_job(
        store,
        NewJob {
            id: &id,
            module_id: &module.id,
            status: JobStatus::Pending,
            processing_mode: ProcessingMode::for_rows(total_rows),
            file_name: Some(queue.file_name.as_deref().unwrap_or(&info.file_name)),
            file_type: Some(info.file_type.as_str()),
            file_path: Some(&file_path.display().to_string()),
            source_options: Some(as_json(
                "source options",
                serde_json::to_value(StoredSource::from_options(&source)),
            )?),
            lease: None,
            total_rows,
            options: as_json("import options", serde_json::to_value(&request))?,
            actor: &queue.actor,
            member_id: service.access().member_id(),
        },
    )
    .await?;
    memory::remember(store, &module, &request.column_mapping).await?;
    job::get_job(store, service.modules(), module.slug(), &id).await
}

fn absolute(path: &Path) -> Result<PathBuf> {
    std::path::absolute(path).map_err(|source| Error::Io {
        path: path.display().to_string(),
        source,
    })
}

/// Copies the file to `DIR/JOB_ID.EXT` (the extension tells the format when the job runs).
fn copy_into(file: &Path, dir: &Path, job_id: &str) -> Result<PathBuf> {
    let io = |path: &Path| {
        let path = path.display().to_string();
        move |source| Error::Io { path, source }
    };
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let extension = file
        .extension()
        .map(|e| e.to_string_lossy().to_lowercase())
        .unwrap_or_default();
    let dest = absolute(&dir.join(format!("{job_id}.{extension}")))?;
    std::fs::copy(file, &dest).map_err(io(file))?;
    Ok(dest)
}

/// Removes the copy a job made of its file, once the job is over; a file the job only pointed at
/// is the caller's and stays.
fn remove_job_copy(path: &Path, job_id: &str) {
    if path.file_stem().and_then(|s| s.to_str()) == Some(job_id)
        && let Err(e) = std::fs::remove_file(path)
    {
        tracing::warn!(job_id, "cannot remove the job's copy of its file: {e}");
    }
}

/// What a worker needs to run a claimed import.
pub(crate) struct RunSettings<'a> {
    pub lease: &'a Lease,
    pub pipeline: PipelineOptions,
    /// Claims after which a job that keeps being interrupted is failed instead of run again (a
    /// file that crashes the worker must not take the queue down with it).
    pub max_attempts: i64,
    /// Set on shutdown: the run stops after its current batch.
    pub shutdown: &'a AtomicBool,
}

/// Runs a claimed import job to its end, or until shutdown, from its checkpoint. Returns the job
/// as it is afterwards.
pub(crate) async fn run_claimed(
    service: &RecordService,
    claimed: &Claimed,
    settings: &RunSettings<'_>,
) -> Result<ImportJob> {
    let store = service.store();
    let queued = job::load_queued(store, &claimed.id).await?;
    // The job runs for the member who started it, whoever's worker claims it.
    let service = &service.acting_for(match &queued.job.member_id {
        Some(member) => Access::Member(member.clone()),
        None => Access::Everything,
    });
    let job_id = claimed.id.as_str();
    let module_slug = queued.module_slug.clone();
    let reload = || job::get_job(store, service.modules(), &module_slug, job_id);
    let file_path = queued.file_path.as_deref().map(PathBuf::from);
    let actor = queued.actor.clone();
    let warnings = queued.job.reference_warnings.clone();
    let lease = settings.lease;
    let fail_early = |error: Error| async move {
        fail_job(service, job_id, &actor, lease, &error, &[], &warnings).await
    };
    // A job whose undo a crash cut short is finished first, whatever its attempts: the undo is
    // what makes the store whole again.
    if queued.job.undo_pending {
        undo::finish_pending(store, service.modules(), job_id, &queued.actor, Some(lease)).await?;
        if let Some(path) = &file_path {
            remove_job_copy(path, job_id);
        }
        return reload().await;
    }
    if queued.job.cancel_requested {
        let ending = undo::Ending::Cancelled;
        undo::undo_job(
            store,
            service.modules(),
            job_id,
            ending,
            &queued.actor,
            Some(lease),
        )
        .await?;
        if let Some(path) = &file_path {
            remove_job_copy(path, job_id);
        }
        return reload().await;
    }
    let Some(path) = file_path else {
        fail_early(Error::validation(format!(
            "import job {job_id} was run by a process that stopped before the end (it is not a \
             queued job, so no worker can go on with it)"
        )))
        .await?;
        return reload().await;
    };
    if claimed.attempts > settings.max_attempts {
        let error = Error::validation(format!(
            "import job {job_id} was interrupted {} times; it is not tried again",
            claimed.attempts - 1
        ));
        fail_early(error).await?;
        remove_job_copy(&path, job_id);
        return reload().await;
    }
    let request: ImportRequest = serde_json::from_value(queued.request.clone())
        .map_err(|e| Error::corrupt(format!("import job {job_id}: stored request: {e}")))?;
    let source_options = match &queued.source_options {
        Some(value) => serde_json::from_value::<StoredSource>(value.clone())
            .map_err(|e| Error::corrupt(format!("import job {job_id}: stored source: {e}")))?
            .to_options(),
        None => SourceOptions::default(),
    };
    let module = service.modules().get(&queued.module_slug).await?;
    // The file was counted (and every row checked) when the job was submitted; it is only
    // planned again here, its dates and numbers read for the order and decimal mark they decide
    // (the same file decides the same way on every attempt), and read once more by the import.
    let value_options = {
        let (module, path, source, mapping, locale) = (
            module.clone(),
            path.clone(),
            source_options.clone(),
            request.column_mapping.clone(),
            request.locale.clone(),
        );
        tokio::task::spawn_blocking(move || {
            value_options_for(&module, &path, &source, &mapping, locale.as_deref())
        })
        .await
        .map_err(|e| Error::internal(format!("the task reading the job's values failed: {e}")))?
    };
    let input = match value_options {
        Ok((value_options, _)) => ImportInput {
            module,
            path: path.clone(),
            request,
            source: source_options,
            value_options,
        },
        Err(error) => {
            fail_early(error).await?;
            remove_job_copy(&path, job_id);
            return reload().await;
        }
    };
    // Planning opens the file for its header: a whole sheet for a workbook, off this thread.
    let total_rows = queued.job.total_rows;
    let planned = tokio::task::spawn_blocking(move || PreparedImport::planned(input, total_rows))
        .await
        .map_err(|e| Error::internal(format!("the task planning the job failed: {e}")))?;
    let prepared = match planned {
        Ok(prepared) => prepared,
        Err(error) => {
            fail_early(error).await?;
            remove_job_copy(&path, job_id);
            return reload().await;
        }
    };
    let total_rows = prepared.total_rows();
    let plan = prepared.plan();
    let ImportInput {
        module,
        request,
        source: source_options,
        value_options,
        ..
    } = prepared.input();
    let resume = Resume {
        counters: job::counters_of(&queued.job),
        errors: job::saved_errors(store, job_id).await?,
        reference_warnings: queued.job.reference_warnings.clone(),
    };
    let skip_rows = resume.counters.processed_rows;
    let mut importer = Importer::new(
        service,
        module,
        &plan,
        request,
        value_options,
        &queued.actor,
        Some(job_id.to_string()),
        resume,
    )?;
    let mut options = RunOptions::new(queued.actor.clone());
    options.source = source_options.clone();
    options.pipeline = settings.pipeline;
    let source = source::open_blocking(&path, source_options).await?;
    let (outcome, lease_lost) = run_leased(
        &mut importer,
        source,
        &options,
        total_rows,
        skip_rows,
        Some(settings.lease),
        Some(settings.shutdown),
    )
    .await;
    let finished = match importer.settle(job_id, settings.lease, outcome).await? {
        Settled::Completed | Settled::Cancelled => true,
        Settled::Failed(error) => {
            tracing::error!(job_id, "import job failed: {error}");
            true
        }
        Settled::Interrupted if lease_lost => {
            tracing::warn!(
                job_id,
                "lost the lease on the job; another worker goes on with it"
            );
            false
        }
        Settled::Interrupted => {
            jobs::release(store, JobTable::Import, job_id, settings.lease).await?;
            false
        }
    };
    if finished {
        remove_job_copy(&path, job_id);
    }
    reload().await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_source_keeps_the_cell_limit_and_defaults_it_for_old_jobs() {
        let options = SourceOptions {
            limits: SourceLimits {
                max_cells: 5_000_000,
                ..SourceLimits::default()
            },
            sheet: Some("Deals".into()),
            ..SourceOptions::default()
        };
        let stored = serde_json::to_value(StoredSource::from_options(&options)).unwrap();
        let read: StoredSource = serde_json::from_value(stored).unwrap();
        assert_eq!(read.to_options().limits.max_cells, 5_000_000);
        assert_eq!(read.to_options().sheet.as_deref(), Some("Deals"));

        let before: StoredSource =
            serde_json::from_value(serde_json::json!({"maxFileBytes": 1024})).unwrap();
        assert_eq!(
            before.to_options().limits.max_cells,
            SourceLimits::default().max_cells
        );
    }
}
