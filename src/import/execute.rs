//! Step 4 of spec 002: execute an import as a job.
//!
//! ```text
//! count pass (checks the whole file first: a malformed file fails before anything is written)
//! source ─> map/validate (rayon) ─> [tx: per chunk: dedupe ─> merge ─> write records, keys,
//!                                         versions, ledger, checkpoint] ─> commit
//! ```
//! One writer handles the chunks in file order, a few chunks per transaction (`CommitPolicy`),
//! each chunk with its own checkpoint, and decides each row
//! exactly as a one-row-at-a-time import would (see [`crate::import::dedupe`]), so the outcome does
//! not depend on the chunk size or the number of mapping threads. If the job fails half-way (the
//! database goes away, the file changes under it), the batches already committed are undone from
//! the ledger and the job is marked failed: a failed import leaves the store as it was.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::error::{Error, Result};
use crate::import::apply::{MappedRow, MappingPlan, RowError};
use crate::import::dedupe::{KeyIndex, match_fields};
use crate::import::job::{
    self, Checkpoint, Counters, JobStatus, LedgerEntry, NewJob, ProcessingMode, insert_job,
};
use crate::import::mapping::ColumnMapping;
use crate::import::memory;
use crate::import::merge::{DuplicateStrategy, MergeMode, merge_fields};
use crate::import::pipeline::{MappedChunk, Pipeline, PipelineOptions};
use crate::import::source::{self, SourceOptions};
use crate::import::validate::MAX_REPORTED_ERRORS;
use crate::import::write::{self as batch_write, Written};
use crate::jobs::{self, JobTable, Lease};
use crate::records::model::{record_columns, record_from_row};
use crate::records::write::{Draft, MatchKey, RecordWriter, diff, match_keys};
use crate::records::{Actor, Record, RecordService};
use crate::schema::value::ValueOptions;
use crate::schema::{FieldDef, FieldType, Module};
use crate::store::{Sql, Store, Tx, new_id, now_micros, statement_pages};

/// The default lease of a job run in the foreground; renewed every third of it while it runs.
pub const FOREGROUND_LEASE: Duration = Duration::from_secs(60);

/// At most this many created record ids are listed in a result; the ledger keeps them all.
pub const MAX_LISTED_RECORD_IDS: usize = 10_000;
/// Distinct unresolved reference values listed per field.
const MAX_UNRESOLVED_VALUES: usize = 100;
/// Reference lookups remembered across batches before the cache starts over.
const REFERENCE_CACHE_ENTRIES: usize = 100_000;

/// The body of spec 002's execute (minus `rows`, which come from a file here).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImportRequest {
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
}

/// Called after every commit (every batch in a dry run).
pub type ProgressFn = Arc<dyn Fn(&Progress) + Send + Sync>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    pub total_rows: u64,
    pub counters: Counters,
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

/// A write transaction holding one or more chunks.
struct OpenTransaction {
    tx: Tx,
    rows: usize,
    started: Instant,
}

impl OpenTransaction {
    async fn begin(store: &Store) -> Result<OpenTransaction> {
        Ok(OpenTransaction {
            tx: store.begin().await?,
            rows: 0,
            started: Instant::now(),
        })
    }
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

/// Spec 002's `referenceWarnings` entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReferenceWarning {
    pub field_slug: String,
    pub field_label: String,
    pub unresolved_values: Vec<String>,
    pub target_module_slug: String,
}

/// Spec 002's execute response, with the counters split further.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ImportResult {
    /// `None` for a dry run.
    pub import_job_id: Option<String>,
    pub status: JobStatus,
    pub processing_mode: ProcessingMode,
    pub total_rows: u64,
    pub success_rows: u64,
    pub error_rows: u64,
    pub skipped_rows: u64,
    pub created_rows: u64,
    pub updated_rows: u64,
    pub unchanged_rows: u64,
    pub created_record_ids: Vec<String>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub created_record_ids_truncated: bool,
    /// Records made in referenced modules (`createMissingReferences`).
    pub created_reference_count: u64,
    pub errors: Vec<RowError>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub errors_truncated: bool,
    /// With `skipValidation`: the values left out of otherwise imported rows.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<RowError>,
    pub reference_warnings: Vec<ReferenceWarning>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub dry_run: bool,
}

/// Imports the file at `path` into `module`. See the module note for the guarantees.
pub async fn execute_file(
    service: &RecordService,
    module: &str,
    path: &Path,
    request: &ImportRequest,
    options: &RunOptions,
) -> Result<ImportResult> {
    let module = service.modules().get(module).await?;
    let checked = CheckedFile::open(
        &module,
        path,
        request,
        &options.source,
        &options.value_options,
    )?;
    let total_rows = checked.total_rows;
    let store = service.store();
    let processing_mode = ProcessingMode::for_rows(total_rows);
    let job_id = (!options.dry_run).then(|| new_id("job"));
    // The foreground process holds a lease too, so that a job whose process died (killed, machine
    // lost) can be told from one still running: a worker then undoes it, and so does rollback.
    let lease = Lease::new(jobs::process_lease_id("import"), options.lease);
    if let Some(id) = &job_id {
        insert_job(
            store,
            NewJob {
                id,
                module_id: &module.id,
                status: JobStatus::Processing,
                processing_mode,
                file_name: Some(&checked.info.file_name),
                file_type: Some(checked.info.file_type.as_str()),
                file_path: None,
                source_options: None,
                lease: Some(&lease),
                total_rows,
                options: serde_json::to_value(request)
                    .map_err(|e| Error::json("import options", e))?,
                actor: &options.actor,
            },
        )
        .await?;
        memory::remember(store, &module, &request.column_mapping).await?;
    }
    let errors_out = match &options.errors_out {
        Some(out) => Some(ErrorsCsv::create(out, &checked.columns)?),
        None => None,
    };
    let mut importer = Importer::new(
        service,
        &module,
        &checked.plan,
        request,
        &options.value_options,
        &options.actor,
        job_id.clone(),
        Resume::default(),
    )?;
    importer.errors_out = errors_out;
    let lease_lost = Arc::new(AtomicBool::new(false));
    let heartbeat = job_id.as_ref().map(|id| {
        jobs::spawn_heartbeat(
            store.clone(),
            JobTable::Import,
            id.clone(),
            lease.clone(),
            Arc::clone(&lease_lost),
        )
    });
    let control = RunControl {
        lease: job_id.is_some().then_some(&lease),
        stop: &[&lease_lost],
        ..RunControl::default()
    };
    let outcome = importer
        .run(checked.source, options, total_rows, &control)
        .await;
    if let Some(heartbeat) = heartbeat {
        heartbeat.abort();
    }
    let errors_out = importer.errors_out.take();
    if let Some(errors_out) = errors_out {
        errors_out.finish()?;
    }
    let status = match (outcome, &job_id) {
        // Another process owns the job now; it is not this run's to fail.
        (Err(error @ Error::LeaseLost { .. }), _) => return Err(error),
        (Err(error), Some(id)) => {
            importer.fail(id, &error).await?;
            return Err(error);
        }
        (Err(error), None) => return Err(error),
        // Stalled past its lease (suspended, say): another process has taken the job over.
        (Ok(RunEnd::Stopped), Some(id)) => {
            return Err(Error::LeaseLost { job_id: id.clone() });
        }
        (Ok(RunEnd::Cancelled), Some(id)) => {
            let undone = job::undo_ledger(store, service.modules(), id, &options.actor).await?;
            job::finish_cancelled(store, id, &undone).await?;
            JobStatus::Cancelled
        }
        (Ok(_), Some(id)) => {
            importer.complete(id).await?;
            JobStatus::Completed
        }
        (Ok(_), None) => JobStatus::Completed,
    };
    let counters = importer.counters;
    Ok(ImportResult {
        import_job_id: job_id,
        status,
        processing_mode,
        total_rows,
        success_rows: counters.success_rows(),
        error_rows: counters.error_rows,
        skipped_rows: counters.skipped_rows,
        created_rows: counters.created_rows,
        updated_rows: counters.updated_rows,
        unchanged_rows: counters.unchanged_rows,
        created_record_ids_truncated: counters.created_rows as usize > importer.created_ids.len(),
        created_record_ids: importer.created_ids,
        created_reference_count: importer.created_reference_count,
        errors: importer.errors,
        errors_truncated: importer.errors_truncated,
        warnings: importer.warnings,
        reference_warnings: importer.reference_warnings,
        dry_run: options.dry_run,
    })
}

/// A file checked against a module and a mapping: counted (every row read with every check the
/// import makes, so a file broken half-way fails before the first write), and opened again for the
/// run.
pub(crate) struct CheckedFile {
    pub total_rows: u64,
    pub source: Box<dyn source::Source>,
    pub columns: Vec<String>,
    pub info: source::SourceInfo,
    pub plan: Arc<MappingPlan>,
}

impl CheckedFile {
    pub(crate) fn open(
        module: &Module,
        path: &Path,
        request: &ImportRequest,
        source_options: &SourceOptions,
        value_options: &ValueOptions,
    ) -> Result<CheckedFile> {
        // The match fields are checked before the file is read.
        if request.duplicate_strategy != DuplicateStrategy::Create {
            match_fields(module, &request.duplicate_match_fields)?;
        }
        let total_rows = source::open(path, source_options)?.count_rest(&mut |_, _| {})?;
        let (source, plan) = open_planned(module, path, request, source_options, value_options)?;
        Ok(CheckedFile {
            total_rows,
            columns: source.columns().to_vec(),
            info: source.describe(),
            source,
            plan,
        })
    }
}

/// Opens a file and checks the mapping against its columns and the module.
pub(crate) fn open_planned(
    module: &Module,
    path: &Path,
    request: &ImportRequest,
    source_options: &SourceOptions,
    value_options: &ValueOptions,
) -> Result<(Box<dyn source::Source>, Arc<MappingPlan>)> {
    let source = source::open(path, source_options)?;
    let plan = Arc::new(MappingPlan::new(
        module,
        source.columns(),
        &request.column_mapping,
        &request.static_values,
        value_options,
    )?);
    if plan.written_fields().is_empty() && !plan.maps_display_name() {
        return Err(Error::invalid_field(
            "columnMapping",
            "no column is mapped to a field: map at least one column",
            None,
        ));
    }
    Ok((source, plan))
}

/// Marks the job failed, then undoes what its committed batches wrote, so a failed job leaves
/// nothing behind. The status comes first: a process that dies during the undo must not leave a
/// processing job that a worker would resume on top of a half-undone ledger; a later rollback
/// finishes the undo from what is left in the ledger. An undo that fails is said in the failure.
pub(crate) async fn fail_job(
    service: &RecordService,
    job_id: &str,
    actor: &Actor,
    error: &Error,
    errors: &[RowError],
    reference_warnings: &[ReferenceWarning],
) -> Result<()> {
    let store = service.store();
    let failed = |failure: String| {
        job::finish_job(
            store,
            job_id,
            JobStatus::Failed,
            errors,
            reference_warnings,
            Some(failure),
        )
    };
    failed(error.to_string()).await?;
    if let Err(undo_error) = job::undo_ledger(store, service.modules(), job_id, actor).await {
        failed(format!(
            "{error}; undoing the committed batches failed too ({undo_error}): roll the job back \
             again"
        ))
        .await?;
    }
    Ok(())
}

/// Where a resumed job starts from: what its committed batches saved.
#[derive(Debug, Default)]
pub(crate) struct Resume {
    pub counters: Counters,
    pub errors: Vec<RowError>,
    pub reference_warnings: Vec<ReferenceWarning>,
}

/// How a run is steered from outside: where it starts, the lease that fences its batches, and a
/// flag that stops it between two batches.
#[derive(Default)]
pub(crate) struct RunControl<'a> {
    pub skip_rows: u64,
    pub lease: Option<&'a Lease>,
    /// Any of these set stops the run between two batches.
    pub stop: &'a [&'a AtomicBool],
}

/// How a run ended, when it did not fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RunEnd {
    /// Every row is written.
    Finished,
    /// Stopped between two batches (shutdown); the job goes on from its checkpoint.
    Stopped,
    /// Cancel was asked for; the committed batches still need undoing.
    Cancelled,
}

/// How a reference cell resolved.
#[derive(Debug, Clone)]
enum Resolved {
    Id(String),
    Ambiguous,
    Missing,
}

/// What happened to one row.
enum RowOutcome {
    Created(String),
    Updated,
    Unchanged,
    Skipped,
    Failed(Vec<RowError>),
}

pub(crate) struct Importer<'a> {
    service: &'a RecordService,
    module: &'a Module,
    plan: &'a Arc<MappingPlan>,
    request: &'a ImportRequest,
    match_on: Vec<&'a FieldDef>,
    written: Vec<String>,
    value_options: &'a ValueOptions,
    actor: &'a Actor,
    job_id: Option<String>,
    counters: Counters,
    errors: Vec<RowError>,
    errors_truncated: bool,
    warnings: Vec<RowError>,
    created_ids: Vec<String>,
    created_reference_count: u64,
    reference_warnings: Vec<ReferenceWarning>,
    /// (target module slug, lower-cased cell) → resolution, across batches.
    reference_cache: HashMap<(String, String), Resolved>,
    targets: HashMap<String, Module>,
    errors_out: Option<ErrorsCsv>,
    /// The lease of a queued job, fencing every checkpoint.
    lease: Option<Lease>,
    /// How many of `errors` are saved with the job.
    errors_saved: usize,
    /// The last checkpoint saw a cancel request.
    cancel_seen: bool,
}

/// The state of one batch: records it made or changed, in the order it touched them.
#[derive(Default)]
struct BatchState {
    index: KeyIndex,
    loaded: HashMap<String, Record>,
    working: HashMap<String, Working>,
    order: Vec<String>,
    /// Records created in referenced modules, for the ledger.
    references: Vec<(String, String)>,
}

struct Working {
    written: Written,
    is_new: bool,
    /// The record as the batch found it (existing records only).
    before: Option<Draft>,
}

impl<'a> Importer<'a> {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        service: &'a RecordService,
        module: &'a Module,
        plan: &'a Arc<MappingPlan>,
        request: &'a ImportRequest,
        value_options: &'a ValueOptions,
        actor: &'a Actor,
        job_id: Option<String>,
        resume: Resume,
    ) -> Result<Importer<'a>> {
        let match_on = if request.duplicate_strategy == DuplicateStrategy::Create {
            Vec::new()
        } else {
            match_fields(module, &request.duplicate_match_fields)?
        };
        Ok(Importer {
            service,
            module,
            plan,
            request,
            match_on,
            written: plan.written_fields(),
            value_options,
            actor,
            job_id,
            counters: resume.counters,
            errors_truncated: resume.counters.error_rows > 0
                && resume.errors.len() >= MAX_REPORTED_ERRORS,
            errors_saved: resume.errors.len(),
            errors: resume.errors,
            warnings: Vec::new(),
            created_ids: Vec::new(),
            created_reference_count: 0,
            reference_warnings: resume.reference_warnings,
            reference_cache: HashMap::new(),
            targets: HashMap::new(),
            errors_out: None,
            lease: None,
            cancel_seen: false,
        })
    }

    /// Ends the job as completed, with its report.
    pub(crate) async fn complete(&self, job_id: &str) -> Result<()> {
        job::finish_job(
            self.service.store(),
            job_id,
            JobStatus::Completed,
            &self.errors,
            &self.reference_warnings,
            None,
        )
        .await
    }

    /// Fails the job; see [`fail_job`].
    pub(crate) async fn fail(&self, job_id: &str, error: &Error) -> Result<()> {
        fail_job(
            self.service,
            job_id,
            self.actor,
            error,
            &self.errors,
            &self.reference_warnings,
        )
        .await
    }

    pub(crate) async fn run(
        &mut self,
        source: Box<dyn source::Source>,
        options: &RunOptions,
        total_rows: u64,
        control: &RunControl<'_>,
    ) -> Result<RunEnd> {
        let store = self.service.store();
        self.lease = control.lease.cloned();
        // The errors CSV needs the cells of rows that fail in the writer too.
        let mut pipeline = Pipeline::start_after(
            source,
            Arc::clone(self.plan),
            options.pipeline,
            options.errors_out.is_some(),
            control.skip_rows,
        )?;
        let mut dry_tx = if options.dry_run {
            Some(store.begin().await?)
        } else {
            None
        };
        // Several chunks share one transaction (see `CommitPolicy`): each batch still writes its
        // own checkpoint, so whatever commits is a consistent state to resume from.
        let mut open: Option<OpenTransaction> = None;
        while let Some(chunk) = pipeline.chunks.recv().await {
            let chunk = chunk?;
            let rows = chunk.rows.len();
            let ending_after = |importer: &Importer| {
                importer.cancel_seen || control.stop.iter().any(|stop| stop.load(Ordering::Relaxed))
            };
            let reached_store = match dry_tx.as_mut() {
                Some(tx) => {
                    self.batch(tx, chunk).await?;
                    true
                }
                None => {
                    let current = match open.as_mut() {
                        Some(current) => current,
                        None => open.insert(OpenTransaction::begin(store).await?),
                    };
                    self.batch(&mut current.tx, chunk).await?;
                    current.rows += rows;
                    let due = ending_after(self)
                        || options
                            .pipeline
                            .commit
                            .is_due(current.rows, current.started);
                    if let Some(current) = open.take_if(|_| due) {
                        current.tx.commit().await?;
                    }
                    due
                }
            };
            if reached_store {
                self.report_progress(options, total_rows);
            }
            if self.cancel_seen {
                return Ok(RunEnd::Cancelled);
            }
            if ending_after(self) {
                return Ok(RunEnd::Stopped);
            }
        }
        if let Some(current) = open.take() {
            current.tx.commit().await?;
            self.report_progress(options, total_rows);
        }
        // A dry run's transaction is dropped here: rolled back.
        drop(dry_tx);
        Ok(RunEnd::Finished)
    }

    fn report_progress(&self, options: &RunOptions, total_rows: u64) {
        if let Some(progress) = &options.progress {
            progress(&Progress {
                total_rows,
                counters: self.counters,
            });
        }
    }

    /// Decides and writes one chunk inside `tx`.
    async fn batch(&mut self, tx: &mut Tx, chunk: MappedChunk) -> Result<()> {
        let MappedChunk { mut rows, cells } = chunk;
        let mut state = BatchState::default();
        self.resolve_references(tx, &mut rows).await?;
        let importable: Vec<bool> = rows.iter().map(|r| self.importable(r)).collect();
        let keys: Vec<Vec<MatchKey>> = rows
            .iter()
            .map(|r| match_keys(self.module, &r.fields))
            .collect();
        let wanted: HashSet<(String, String)> = keys
            .iter()
            .zip(&importable)
            .filter(|(_, ok)| **ok)
            .flat_map(|(k, _)| k.iter().map(|k| (k.field_slug.clone(), k.key.clone())))
            .collect();
        state.index = KeyIndex::load(tx, &self.module.id, &wanted).await?;
        if self.request.duplicate_strategy == DuplicateStrategy::Update {
            let ids: Vec<String> = state
                .index
                .stored_ids()
                .into_iter()
                .map(str::to_string)
                .collect();
            state.loaded = load_records(tx, self.module, &ids).await?;
        }
        for (i, mut row) in rows.into_iter().enumerate() {
            self.counters.processed_rows += 1;
            let outcome = if importable[i] {
                if !row.errors.is_empty() {
                    // Listed up to the same cap as errors: a file of bad values must not grow
                    // the result (and the process) with every row.
                    let room = MAX_REPORTED_ERRORS.saturating_sub(self.warnings.len());
                    self.warnings.extend(row.errors.drain(..).take(room));
                }
                self.decide(&mut state, &row, &keys[i])?
            } else {
                RowOutcome::Failed(std::mem::take(&mut row.errors))
            };
            match outcome {
                RowOutcome::Created(id) => {
                    self.counters.created_rows += 1;
                    if self.created_ids.len() < MAX_LISTED_RECORD_IDS {
                        self.created_ids.push(id);
                    }
                }
                RowOutcome::Updated => self.counters.updated_rows += 1,
                RowOutcome::Unchanged => self.counters.unchanged_rows += 1,
                RowOutcome::Skipped => self.counters.skipped_rows += 1,
                RowOutcome::Failed(errors) => {
                    self.counters.error_rows += 1;
                    if let Some(out) = &mut self.errors_out {
                        let row_cells = cells.get(i).and_then(Option::as_deref).unwrap_or(&[]);
                        out.write(row.row_number, row_cells, &errors)?;
                    }
                    for error in errors {
                        if self.errors.len() < MAX_REPORTED_ERRORS {
                            self.errors.push(error);
                        } else {
                            self.errors_truncated = true;
                        }
                    }
                }
            }
        }
        self.write_batch(tx, state).await
    }

    /// Whether a row goes on to dedupe and write: never when malformed, and with bad values only
    /// under `skipValidation`.
    fn importable(&self, row: &MappedRow) -> bool {
        !row.malformed && (row.errors.is_empty() || self.request.skip_validation)
    }

    /// One row, given everything earlier rows did.
    fn decide(
        &mut self,
        state: &mut BatchState,
        row: &MappedRow,
        keys: &[MatchKey],
    ) -> Result<RowOutcome> {
        let matched = if self.match_on.is_empty() {
            None
        } else {
            state.index.find_match(&self.match_on, keys)
        };
        if let Some(id) = matched {
            if self.request.duplicate_strategy == DuplicateStrategy::Skip {
                return Ok(RowOutcome::Skipped);
            }
            return self.update(state, row, &id);
        }
        Ok(self.create(state, row, keys))
    }

    fn create(&mut self, state: &mut BatchState, row: &MappedRow, keys: &[MatchKey]) -> RowOutcome {
        if !self.request.skip_validation {
            let missing = self.plan.missing_required(row.row_number, &row.fields);
            if !missing.is_empty() {
                return RowOutcome::Failed(missing);
            }
        }
        let id = new_id("rec");
        if let Some(conflict) = self.conflict(state, row, &id, keys) {
            return RowOutcome::Failed(vec![conflict]);
        }
        let display_name = row
            .display_name
            .clone()
            .unwrap_or_else(|| self.module.render_display_name(&row.fields));
        let draft = Draft {
            display_name,
            fields: row.fields.clone(),
            label_ids: Vec::new(),
            type_ids: Vec::new(),
            privacy_level: "account".into(),
            description_html: None,
            external_id: None,
        };
        state.index.set_keys(&id, keys);
        state.order.push(id.clone());
        state.working.insert(
            id.clone(),
            Working {
                written: Written {
                    id: id.clone(),
                    draft,
                    keys: keys.to_vec(),
                    version: 1,
                    versions: Vec::new(),
                },
                is_new: true,
                before: None,
            },
        );
        RowOutcome::Created(id)
    }

    fn update(&mut self, state: &mut BatchState, row: &MappedRow, id: &str) -> Result<RowOutcome> {
        let (current, version) = match state.working.get(id) {
            Some(w) => (w.written.draft.clone(), w.written.version),
            None => {
                let record = state.loaded.get(id).ok_or_else(|| Error::Conflict {
                    message: format!("record {id} changed while the import read it"),
                    details: json!({ "recordId": id }),
                })?;
                (Draft::from_record(record), record.version)
            }
        };
        let mode = self.request.merge_mode;
        let fields = merge_fields(&current.fields, &row.fields, &self.written, mode);
        let generated = current.display_name == self.module.render_display_name(&current.fields);
        let display_name = match (&row.display_name, mode) {
            (Some(name), MergeMode::Overwrite | MergeMode::PreferImport) => name.clone(),
            (None, MergeMode::Overwrite) if self.plan.maps_display_name() => {
                self.module.render_display_name(&fields)
            }
            _ if generated => self.module.render_display_name(&fields),
            _ => current.display_name.clone(),
        };
        let draft = Draft {
            display_name,
            fields,
            ..current.clone()
        };
        let changes = diff(&current, &draft);
        if changes.is_empty() {
            return Ok(RowOutcome::Unchanged);
        }
        if !self.request.skip_validation {
            let missing = self.plan.missing_required(row.row_number, &draft.fields);
            if !missing.is_empty() {
                return Ok(RowOutcome::Failed(missing));
            }
        }
        let keys = match_keys(self.module, &draft.fields);
        if let Some(conflict) = self.conflict(state, row, id, &keys) {
            return Ok(RowOutcome::Failed(vec![conflict]));
        }
        state.index.set_keys(id, &keys);
        let next = version + 1;
        match state.working.get_mut(id) {
            Some(w) => {
                w.written.draft = draft;
                w.written.keys = keys;
                w.written.version = next;
                w.written.versions.push((next, Value::Object(changes)));
            }
            None => {
                state.order.push(id.to_string());
                state.working.insert(
                    id.to_string(),
                    Working {
                        written: Written {
                            id: id.to_string(),
                            draft,
                            keys,
                            version: next,
                            versions: vec![(next, Value::Object(changes))],
                        },
                        is_new: false,
                        before: Some(current),
                    },
                );
            }
        }
        Ok(RowOutcome::Updated)
    }

    /// A row error when one of `keys` of a unique field belongs to another record.
    fn conflict(
        &self,
        state: &BatchState,
        row: &MappedRow,
        record: &str,
        keys: &[MatchKey],
    ) -> Option<RowError> {
        let (key, holder) = state.index.unique_conflict(record, keys)?;
        let label = self
            .module
            .field(&key.field_slug)
            .map_or(key.field_slug.as_str(), |f| f.label.as_str());
        Some(RowError {
            row: row.row_number,
            field: Some(key.field_slug.clone()),
            column: None,
            value: Some(key.key.clone()),
            error: format!(
                "Duplicate {} found: '{}' is already used by record {holder}",
                label.to_lowercase(),
                key.key
            ),
        })
    }

    async fn write_batch(&mut self, tx: &mut Tx, state: BatchState) -> Result<()> {
        let now = now_micros();
        let BatchState {
            working,
            order,
            references,
            ..
        } = state;
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
        batch_write::insert_records(tx, self.module, &new, self.actor, now).await?;
        batch_write::update_records(tx, self.module, &changed, self.actor, now).await?;
        // Changed records give up their old keys before new records take theirs: a row may hand
        // a unique value an earlier row of the batch took away from an existing record.
        batch_write::replace_keys(tx, self.module, &changed, true).await?;
        batch_write::replace_keys(tx, self.module, &new, false).await?;
        let versioned: Vec<&Written> = touched
            .iter()
            .map(|w| &w.written)
            .filter(|w| !w.versions.is_empty())
            .collect();
        batch_write::insert_versions(tx, &versioned, self.actor, now).await?;
        if let Some(job_id) = &self.job_id {
            let mut ledger: Vec<LedgerEntry> = references
                .into_iter()
                .map(|(module_id, record_id)| LedgerEntry {
                    record_id,
                    module_id,
                    created: true,
                    before: None,
                    after_version: 1,
                })
                .collect();
            ledger.extend(touched.iter().map(|w| LedgerEntry {
                record_id: w.written.id.clone(),
                module_id: self.module.id.clone(),
                created: w.is_new,
                before: w.before.clone(),
                after_version: w.written.version,
            }));
            job::write_ledger(tx, job_id, &ledger).await?;
            let seen = job::checkpoint(
                tx,
                job_id,
                Checkpoint {
                    counters: &self.counters,
                    new_errors: &self.errors[self.errors_saved..],
                    first_error_seq: self.errors_saved,
                    reference_warnings: &self.reference_warnings,
                    lease: self.lease.as_ref(),
                },
            )
            .await?;
            self.errors_saved = self.errors.len();
            self.cancel_seen = seen.cancel_requested;
        }
        Ok(())
    }

    /// Replaces reference cells (a record id or display name of the target module) with ids,
    /// looking every distinct value of the batch up at once. Unresolved values become reference
    /// warnings (the field is left empty) or, with `createMissingReferences`, new records.
    async fn resolve_references(&mut self, tx: &mut Tx, rows: &mut [MappedRow]) -> Result<()> {
        let reference_fields: Vec<&FieldDef> = self
            .module
            .def
            .fields
            .iter()
            .filter(|f| f.field_type == FieldType::Reference && self.written.contains(&f.slug))
            .collect();
        for field in reference_fields {
            let target_slug = field.target.clone().unwrap_or_default();
            if !self.targets.contains_key(&target_slug) {
                let target = self.service.modules().get(&target_slug).await?;
                self.targets.insert(target_slug.clone(), target);
            }
            let target = self.targets[&target_slug].clone();
            let mut unknown: Vec<String> = rows
                .iter()
                .filter(|r| self.importable(r))
                .filter_map(|r| r.fields.get(&field.slug).and_then(Value::as_str))
                .filter(|v| {
                    !self
                        .reference_cache
                        .contains_key(&(target_slug.clone(), v.to_lowercase()))
                })
                .map(str::to_string)
                .collect();
            unknown.sort();
            unknown.dedup();
            if self.reference_cache.len() + unknown.len() > REFERENCE_CACHE_ENTRIES {
                self.reference_cache.clear();
            }
            for page in statement_pages(&unknown, 256) {
                let mut found: HashMap<String, Vec<String>> = HashMap::new();
                let mut sql = Sql::new("SELECT id, display_name FROM records WHERE module_id = ");
                sql.bind(target.id.clone())
                    .push(" AND deleted_at IS NULL AND (id IN (")
                    .bind_list(page.iter().cloned())
                    .push(") OR lower(display_name) IN (")
                    .bind_list(page.iter().map(|v| v.to_lowercase()))
                    .push("))");
                for row in tx.fetch_all(sql).await? {
                    let id = row.text("id")?;
                    found.entry(id.to_lowercase()).or_default().push(id.clone());
                    let name = row.text("display_name")?.to_lowercase();
                    if name != id.to_lowercase() {
                        found.entry(name).or_default().push(id);
                    }
                }
                for value in page {
                    let lower = value.to_lowercase();
                    let resolved = match found.get(&lower).map(Vec::as_slice) {
                        Some([id]) => Resolved::Id(id.clone()),
                        Some(ids) if ids.iter().any(|id| id == value) => {
                            Resolved::Id(value.clone())
                        }
                        Some([_, _, ..]) => Resolved::Ambiguous,
                        _ => Resolved::Missing,
                    };
                    self.reference_cache
                        .insert((target_slug.clone(), lower), resolved);
                }
            }
            for row in rows.iter_mut() {
                if !self.importable(row) {
                    continue;
                }
                let Some(text) = row
                    .fields
                    .get(&field.slug)
                    .and_then(Value::as_str)
                    .map(str::to_string)
                else {
                    continue;
                };
                let key = (target_slug.clone(), text.to_lowercase());
                let resolved = self
                    .reference_cache
                    .get(&key)
                    .cloned()
                    .unwrap_or(Resolved::Missing);
                match resolved {
                    Resolved::Id(id) => {
                        row.fields.insert(field.slug.clone(), Value::String(id));
                    }
                    Resolved::Ambiguous => {
                        row.fields.remove(&field.slug);
                        row.errors.push(RowError {
                            row: row.row_number,
                            field: Some(field.slug.clone()),
                            column: None,
                            value: Some(text.clone()),
                            error: format!(
                                "several {target_slug} records are named '{text}': give the record id"
                            ),
                        });
                        // An ambiguous reference is never a guess: the row fails.
                        row.malformed = true;
                    }
                    Resolved::Missing if self.request.create_missing_references => {
                        let id = self.create_reference(tx, &target, &text).await?;
                        self.reference_cache.insert(key, Resolved::Id(id.clone()));
                        row.fields.insert(field.slug.clone(), Value::String(id));
                    }
                    Resolved::Missing => {
                        row.fields.remove(&field.slug);
                        self.warn_unresolved(field, &target_slug, &text);
                    }
                }
            }
        }
        Ok(())
    }

    async fn create_reference(
        &mut self,
        tx: &mut Tx,
        target: &Module,
        name: &str,
    ) -> Result<String> {
        let mut fields = Map::new();
        // A target named by one field ("{name}") gets that field too, so the new record looks
        // like one made by hand.
        if let Some(template) = target.def.display_name.first()
            && let Some(slug) = template.strip_prefix('{').and_then(|t| t.strip_suffix('}'))
            && let Some(field) = target.field(slug)
            && let Ok(Some(v)) = crate::schema::value::parse_text(field, name, self.value_options)
        {
            fields.insert(slug.to_string(), v);
        }
        let writer = RecordWriter {
            module: target,
            modules: self.service.modules(),
            value_options: self.value_options,
        };
        let draft = Draft {
            display_name: name.trim().to_string(),
            fields,
            label_ids: Vec::new(),
            type_ids: Vec::new(),
            privacy_level: "account".into(),
            description_html: None,
            external_id: None,
        };
        let id = writer.insert(tx, &draft, self.actor).await?;
        if let Some(job_id) = &self.job_id {
            job::write_ledger(
                tx,
                job_id,
                &[LedgerEntry {
                    record_id: id.clone(),
                    module_id: target.id.clone(),
                    created: true,
                    before: None,
                    after_version: 1,
                }],
            )
            .await?;
        }
        self.created_reference_count += 1;
        Ok(id)
    }

    fn warn_unresolved(&mut self, field: &FieldDef, target_slug: &str, value: &str) {
        let warning = match self
            .reference_warnings
            .iter_mut()
            .find(|w| w.field_slug == field.slug)
        {
            Some(w) => w,
            None => {
                self.reference_warnings.push(ReferenceWarning {
                    field_slug: field.slug.clone(),
                    field_label: field.label.clone(),
                    unresolved_values: Vec::new(),
                    target_module_slug: target_slug.to_string(),
                });
                self.reference_warnings.last_mut().expect("just pushed")
            }
        };
        if warning.unresolved_values.len() < MAX_UNRESOLVED_VALUES
            && !warning.unresolved_values.iter().any(|v| v == value)
        {
            warning.unresolved_values.push(value.to_string());
        }
    }
}

async fn load_records(
    tx: &mut Tx,
    module: &Module,
    ids: &[String],
) -> Result<HashMap<String, Record>> {
    let mut out = HashMap::new();
    for page in statement_pages(ids, 500) {
        let mut sql = Sql::new(format!(
            "SELECT {} FROM records r WHERE r.module_id = ",
            record_columns(tx.dialect())
        ));
        sql.bind(module.id.clone())
            .push(" AND r.deleted_at IS NULL AND r.id IN (")
            .bind_list(page.iter().cloned())
            .push(")");
        for row in tx.fetch_all(sql).await? {
            let record = record_from_row(&row, module.slug())?;
            out.insert(record.id.clone(), record);
        }
    }
    Ok(out)
}

/// The rows that failed, as the file had them, plus the row number and the errors: fix the
/// cells and import this file again.
struct ErrorsCsv {
    path: PathBuf,
    writer: csv::Writer<std::fs::File>,
    width: usize,
}

impl ErrorsCsv {
    fn create(path: &Path, columns: &[String]) -> Result<ErrorsCsv> {
        let file = std::fs::File::create(path).map_err(|e| Error::Io {
            path: path.display().to_string(),
            source: e,
        })?;
        let mut writer = csv::Writer::from_writer(file);
        let mut header: Vec<&str> = columns.iter().map(String::as_str).collect();
        header.extend(["Import Row", "Import Errors"]);
        writer
            .write_record(&header)
            .map_err(|e| csv_error(path, e))?;
        Ok(ErrorsCsv {
            path: path.to_path_buf(),
            writer,
            width: columns.len(),
        })
    }

    fn write(&mut self, row: u64, cells: &[String], errors: &[RowError]) -> Result<()> {
        let mut record: Vec<String> = (0..self.width)
            .map(|i| cells.get(i).cloned().unwrap_or_default())
            .collect();
        record.push(row.to_string());
        record.push(
            errors
                .iter()
                .map(|e| match (&e.field, &e.column) {
                    (Some(field), Some(column)) => format!("{field} ({column}): {}", e.error),
                    (Some(field), None) => format!("{field}: {}", e.error),
                    _ => e.error.clone(),
                })
                .collect::<Vec<_>>()
                .join("; "),
        );
        self.writer
            .write_record(&record)
            .map_err(|e| csv_error(&self.path, e))
    }

    fn finish(mut self) -> Result<()> {
        let result = self.writer.flush();
        result.map_err(|e| Error::Io {
            path: self.path.display().to_string(),
            source: e,
        })
    }
}

fn csv_error(path: &Path, e: csv::Error) -> Error {
    Error::Io {
        path: path.display().to_string(),
        source: std::io::Error::other(e),
    }
}
