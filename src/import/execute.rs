//! Step 4 of spec 002: the one driver of an import.
//!
//! ```text
//! PreparedImport::prepare   module, mapping and file checked once: every row read with every
//!        │                  check the import makes (a file broken half-way fails before the
//!        │                  first write), counted, and the mapping planned
//!        ├── run()      ──> a job row, then the writer in the foreground (CLI, small HTTP imports)
//!        ├── enqueue()  ──> a pending job row for a worker (CLI --background, large HTTP imports)
//!        └── start()    ──> one or the other, by spec 002's processing mode
//! worker: queue::run_claimed reopens the file (no second count) and runs the same writer
//! ```
//! Whichever way it runs, a job ends the same way (`Settled`): completed, cancelled and undone,
//! or failed and undone — a failed import leaves the store as it was.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::error::{Error, Result};
use crate::import::dedupe::match_fields;
use crate::import::job::{ImportJob, JobStatus, NewJob, ProcessingMode, insert_job};
use crate::import::map::MappingPlan;
use crate::import::mapping::ColumnMapping;
use crate::import::memory;
use crate::import::merge::{DuplicateStrategy, MergeMode};
use crate::import::pipeline::PipelineOptions;
use crate::import::queue::{self, QueueOptions};
use crate::import::report::{ErrorsCsv, ImportResult, Phase, Progress, ReferenceWarning, RowError};
use crate::import::source::{self, SourceInfo, SourceOptions};
use crate::import::undo;
use crate::import::writer::{Importer, Resume, RunControl, RunEnd};
use crate::jobs::{self, JobTable, Lease};
use crate::records::{Actor, RecordService};
use crate::schema::Module;
use crate::schema::value::ValueOptions;
use crate::store::new_id;

pub use crate::import::report::ProgressFn;

/// The default lease of a job run in the foreground; renewed every third of it while it runs.
pub const FOREGROUND_LEASE: Duration = Duration::from_secs(60);

/// The body of spec 002's execute (minus `rows`, which come from a file here).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImportRequest {
    /// Absent in a body: the caller decides (the CLI and the HTTP API use the suggested mapping).
    #[serde(default)]
    pub column_mapping: Vec<ColumnMapping>,
    #[serde(default)]
    pub duplicate_strategy: DuplicateStrategy,
    #[serde(default)]
    pub duplicate_match_fields: Vec<String>,
    #[serde(default)]
    pub merge_mode: MergeMode,
    #[serde(default)]
    pub ai_mapping_used: bool,
    /// Values that do not fit their field are left out (and reported as warnings) instead of
    /// failing the row; required fields are not enforced. Malformed rows still fail.
    #[serde(default)]
    pub skip_validation: bool,
    #[serde(default)]
    pub create_missing_references: bool,
    /// Field values for every record, used where the row leaves the field empty.
    #[serde(default)]
    pub static_values: Map<String, Value>,
    /// The error budget: over it the import stops, fails and is undone. None: no budget.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_errors: Option<crate::import::ErrorBudget>,
    /// How values are read (`en-US`, `de-DE`, …): day/month order, decimal mark and the default
    /// phone region. None: the module's locale, else the file's own values decide (see
    /// [`crate::import::locale`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub locale: Option<String>,
}

/// How to run an import (as opposed to what to import).
#[derive(Clone)]
pub struct RunOptions {
    pub source: SourceOptions,
    pub pipeline: PipelineOptions,
    pub value_options: ValueOptions,
    /// Run everything in one transaction and roll it back: the report without the changes. No
    /// job is stored.
    pub dry_run: bool,
    /// Write the rows that failed, with their errors, to this CSV file.
    pub errors_out: Option<PathBuf>,
    pub actor: Actor,
    pub progress: Option<ProgressFn>,
    /// How long after this process stops renewing it (it died) the job counts as abandoned: a
    /// worker or a rollback may then undo it.
    pub lease: Duration,
}

impl RunOptions {
    pub fn new(actor: Actor) -> RunOptions {
        RunOptions {
            source: SourceOptions::default(),
            pipeline: PipelineOptions::default(),
            value_options: ValueOptions::default(),
            dry_run: false,
            errors_out: None,
            actor,
            progress: None,
            lease: FOREGROUND_LEASE,
        }
    }
}

/// An import whose module, mapping and file were checked and counted: ready to run in the
/// foreground or to queue for a worker.
pub struct PreparedImport {
    input: ImportInput,
    total_rows: u64,
    info: SourceInfo,
    columns: Vec<String>,
    plan: Arc<MappingPlan>,
}

/// What to import: into which module, from which file read how, with which request.
pub(crate) struct ImportInput {
    pub module: Module,
    pub path: PathBuf,
    pub request: ImportRequest,
    pub source: SourceOptions,
    pub value_options: ValueOptions,
}

/// What [`PreparedImport::start`] did.
#[derive(Debug)]
pub enum Started {
    /// Small enough to run in the caller's request (spec 002's `sync`): the result.
    Finished(Box<ImportResult>),
    /// Queued for a worker (`stream` or `background`): the pending job.
    Queued(Box<ImportJob>),
}

impl PreparedImport {
    /// Checks the match fields, then reads the whole file once with the import's checks (a
    /// malformed file is refused here, before anything is written) and plans the mapping
    /// against its header and the module. The file is read on a blocking thread.
    pub async fn prepare(
        service: &RecordService,
        module: &str,
        path: &Path,
        request: ImportRequest,
        source: SourceOptions,
        value_options: ValueOptions,
    ) -> Result<PreparedImport> {
        let module = service.modules().get(module).await?;
        let path = path.to_path_buf();
        tokio::task::spawn_blocking(move || {
            if request.duplicate_strategy != DuplicateStrategy::Create {
                match_fields(&module, &request.duplicate_match_fields)?;
            }
            let total_rows = source::open(&path, &source)?.count_rest(&mut |_, _| {})?;
            let input = ImportInput {
                module,
                path,
                request,
                source,
                value_options,
            };
            PreparedImport::planned(input, total_rows)
        })
        .await
        .map_err(|e| Error::internal(format!("the task checking the import file failed: {e}")))?
    }

    /// Plans the mapping against the file's header without counting it again (a queued job
    /// was counted when it was submitted).
    pub(crate) fn planned(mut input: ImportInput, total_rows: u64) -> Result<PreparedImport> {
        // A locale in the request (else the module's) decides how values read, wherever the
        // import runs (here, a worker, the HTTP API).
        let locale = input
            .request
            .locale
            .as_ref()
            .or(input.module.def.locale.as_ref());
        if let Some(tag) = locale {
            input.value_options = tag
                .parse::<crate::import::locale::Locale>()?
                .value_options();
        }
        let opened = source::open(&input.path, &input.source)?;
        let plan = MappingPlan::new(
            &input.module,
            opened.columns(),
            &input.request.column_mapping,
            &input.request.static_values,
            &input.value_options,
        )?;
        if plan.written_fields().is_empty() && !plan.maps_display_name() {
            return Err(Error::invalid_field(
                "columnMapping",
                "no column is mapped to a field: map at least one column",
                None,
            ));
        }
        Ok(PreparedImport {
            columns: opened.columns().to_vec(),
            info: opened.describe(),
            plan: Arc::new(plan),
            input,
            total_rows,
        })
    }

    pub(crate) fn plan(&self) -> Arc<MappingPlan> {
        Arc::clone(&self.plan)
    }

    pub fn total_rows(&self) -> u64 {
        self.total_rows
    }

    pub fn info(&self) -> &SourceInfo {
        &self.info
    }

    /// The name the job shows for its file, when it is not the file's own (an upload stored
    /// under another name).
    pub fn with_file_name(mut self, name: String) -> PreparedImport {
        self.info.file_name = name;
        self
    }

    /// Spec 002's processing mode for this file's size.
    pub fn processing_mode(&self) -> ProcessingMode {
        ProcessingMode::for_rows(self.total_rows)
    }

    /// Runs the import in the caller's request when spec 002 says it is small enough (`sync`),
    /// else queues it for a worker.
    pub async fn start(
        self,
        service: &RecordService,
        options: &RunOptions,
        queue: QueueOptions,
    ) -> Result<Started> {
        if self.processing_mode().runs_in_request() {
            Ok(Started::Finished(Box::new(
                self.run(service, options).await?,
            )))
        } else {
            Ok(Started::Queued(Box::new(
                self.enqueue(service, queue).await?,
            )))
        }
    }

    /// Stores the job as `pending` and returns; a worker runs it.
    pub async fn enqueue(self, service: &RecordService, queue: QueueOptions) -> Result<ImportJob> {
        queue::enqueue(service, self, queue).await
    }

    pub(crate) fn into_parts(self) -> (ImportInput, SourceInfo, u64) {
        (self.input, self.info, self.total_rows)
    }

    pub(crate) fn input(&self) -> &ImportInput {
        &self.input
    }

    /// Runs the import in the foreground as a job (no job with `dry_run`). See the module note.
    pub async fn run(self, service: &RecordService, options: &RunOptions) -> Result<ImportResult> {
        let store = service.store();
        let module = &self.input.module;
        let request = &self.input.request;
        let total_rows = self.total_rows;
        let processing_mode = self.processing_mode();
        let job_id = (!options.dry_run).then(|| new_id("job"));
        // The foreground process holds a lease too, so that a job whose process died (killed,
        // machine lost) can be told from one still running: a worker then undoes it, and so
        // does rollback.
        let lease = Lease::new(jobs::process_lease_id("import"), options.lease);
        if let Some(id) = &job_id {
            insert_job(
                store,
                NewJob {
                    id,
                    module_id: &module.id,
                    status: JobStatus::Processing,
                    processing_mode,
                    file_name: Some(&self.info.file_name),
                    file_type: Some(self.info.file_type.as_str()),
                    file_path: None,
                    source_options: None,
                    lease: Some(&lease),
                    total_rows,
                    options: serde_json::to_value(request)
                        .map_err(|e| Error::internal(format!("import options as JSON: {e}")))?,
                    actor: &options.actor,
                    member_id: service.access().member_id(),
                },
            )
            .await?;
            memory::remember(store, module, &request.column_mapping).await?;
        }
        let mut importer = Importer::new(
            service,
            module,
            &self.plan,
            request,
            &self.input.value_options,
            &options.actor,
            job_id.clone(),
            Resume::default(),
        )?;
        if let Some(out) = &options.errors_out {
            importer.errors_out = Some(ErrorsCsv::create(out, &self.columns)?);
        }
        let source = source::open_blocking(&self.input.path, &self.input.source).await?;
        let held = job_id.is_some().then_some(&lease);
        let (outcome, _) =
            run_leased(&mut importer, source, options, total_rows, 0, held, None).await;
        // A failed or cancelled job is undone next (in `settle`): say so while it happens.
        if let Some(progress) = &options.progress
            && job_id.is_some()
            && matches!(&outcome, Ok(RunEnd::Cancelled))
                | matches!(&outcome, Err(error) if !matches!(error, Error::LeaseLost { .. }))
        {
            progress(&Progress {
                total_rows,
                counters: importer.counters(),
                phase: Phase::Undoing,
            });
        }
        if let Some(errors_out) = importer.errors_out.take() {
            errors_out.finish()?;
        }
        let status = match &job_id {
            None => {
                outcome?;
                JobStatus::Completed
            }
            Some(id) => match importer.settle(id, &lease, outcome).await? {
                Settled::Completed => JobStatus::Completed,
                Settled::Cancelled => JobStatus::Cancelled,
                Settled::Failed(error) => return Err(error),
                // Stalled past its lease (suspended, say): another process has the job now,
                // and it is not this run's to fail.
                Settled::Interrupted => return Err(Error::LeaseLost { job_id: id.clone() }),
            },
        };
        Ok(importer.into_result(job_id, status, processing_mode, total_rows, options.dry_run))
    }
}

/// Imports the file at `path` into `module` in the foreground: [`PreparedImport::prepare`] then
/// [`PreparedImport::run`].
pub async fn execute_file(
    service: &RecordService,
    module: &str,
    path: &Path,
    request: &ImportRequest,
    options: &RunOptions,
) -> Result<ImportResult> {
    PreparedImport::prepare(
        service,
        module,
        path,
        request.clone(),
        options.source.clone(),
        options.value_options.clone(),
    )
    .await?
    .run(service, options)
    .await
}

/// How a job stood after a run of the writer, once the driver acted on it.
pub(crate) enum Settled {
    /// Every row is in; the job is completed.
    Completed,
    /// Cancel was asked for; what the job wrote is undone and the job is cancelled.
    Cancelled,
    /// The run failed; the job is failed and what it wrote is undone.
    Failed(Error),
    /// Stopped between two batches (shutdown) or lost its lease: the job goes on elsewhere or
    /// later, from its checkpoint.
    Interrupted,
}

/// Runs the writer over `source` holding `lease` (renewed by a heartbeat while it runs), from
/// row `skip_rows`; `stop` stops it between two batches. Returns how the run ended and whether
/// the lease was lost.
pub(crate) async fn run_leased(
    importer: &mut Importer<'_>,
    source: Box<dyn source::Source>,
    options: &RunOptions,
    total_rows: u64,
    skip_rows: u64,
    lease: Option<&Lease>,
    stop: Option<&AtomicBool>,
) -> (Result<RunEnd>, bool) {
    let lease_lost = Arc::new(AtomicBool::new(false));
    let heartbeat = match (lease, importer.job_id()) {
        (Some(lease), Some(id)) => Some(jobs::spawn_heartbeat(
            importer.store().clone(),
            JobTable::Import,
            id.to_string(),
            lease.clone(),
            Arc::clone(&lease_lost),
        )),
        _ => None,
    };
    let stops: Vec<&AtomicBool> = std::iter::once(lease_lost.as_ref()).chain(stop).collect();
    let control = RunControl {
        skip_rows,
        lease,
        stop: &stops,
    };
    let outcome = importer.run(source, options, total_rows, &control).await;
    if let Some(heartbeat) = heartbeat {
        heartbeat.abort();
    }
    (
        outcome,
        lease_lost.load(std::sync::atomic::Ordering::Relaxed),
    )
}

/// Fails the job and undoes what its committed batches wrote, so a failed job leaves nothing
/// behind: the job stays `processing` with its undo pending until the ledger is empty (see
/// [`undo`]), so a process that dies during the undo leaves a job the next worker finishes.
/// An undo that stops is left to that worker.
pub(crate) async fn fail_job(
    service: &RecordService,
    job_id: &str,
    actor: &Actor,
    lease: &Lease,
    error: &Error,
    errors: &[RowError],
    reference_warnings: &[ReferenceWarning],
) -> Result<()> {
    let ending = undo::Ending::Failed {
        failure: error.to_string(),
        errors,
        reference_warnings,
    };
    if let Err(undo_error) = undo::undo_job(
        service.store(),
        service.modules(),
        job_id,
        ending,
        actor,
        Some(lease),
    )
    .await
    {
        tracing::error!(
            job_id,
            "{error}; undoing the committed batches stopped: {undo_error}"
        );
    }
    Ok(())
}
