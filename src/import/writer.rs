//! The writer: the one task that owns the database transaction. Chunks come from the pipeline in
//! file order; each is resolved, deduped, merged and written with its ledger lines and the job's
//! checkpoint, several chunks to a transaction ([`CommitPolicy`](crate::import::CommitPolicy)).
//!
//! In: mapped chunks, a lease, stop flags. Out: the store changed batch by batch, and the run's
//! counters, errors and warnings. Guarantees: each row is decided exactly as a one-row-at-a-time
//! import would decide it, so the outcome does not depend on the chunk size, the commit size or
//! the number of mapping threads; every committed transaction ends on a checkpoint, so a run that
//! stops (shutdown, crash, lost lease) resumes from a consistent state, each row written once.
//!
//! Writers side by side (PostgreSQL): another job's transaction may commit a unique value this
//! one is about to insert, or change a record this one read. The batch then fails with a write
//! conflict ([`Error::is_write_conflict`]); the writer rolls the open transaction back, restores
//! what it counted to its last commit ([`Committed`]) and replays the transaction's chunks — kept
//! for that — each decided again against the rows committed now and committed on its own. After
//! [`MAX_WRITE_CONFLICTS`] conflicts in a row without a commit the job fails with a `conflict`.
//! SQLite needs none of this: its one writer (`BEGIN IMMEDIATE`) sees every committed row and
//! nobody writes beside it.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use rand::RngExt;
use serde_json::json;

use crate::error::{Error, Result};
use crate::import::dedupe::{
    BatchState, KeyIndex, RowDecider, RowOutcome, load_records, load_records_sqlite, match_fields,
};
use crate::import::execute::{ImportRequest, RunOptions, Settled, fail_job};
use crate::import::job::{self, Checkpoint, JobStatus, ProcessingMode};
use crate::import::map::MappedRow;
use crate::import::map::MappingPlan;
use crate::import::merge::DuplicateStrategy;
use crate::import::pipeline::{MappedChunk, Pipeline};
use crate::import::report::{
    Counters, ErrorsCsv, ImportResult, MAX_LISTED_RECORD_IDS, MAX_REPORTED_ERRORS, Phase, Progress,
    ReferenceWarning, RowError,
};
use crate::import::resolve::{ReferenceResolver, ResolutionCache};
use crate::import::source;
use crate::import::undo;
use crate::import::write::Decisions;
use crate::jobs::Lease;
use crate::records::keys::KeySpaces;
use crate::records::write::{MatchKey, match_keys};
use crate::records::{Actor, Record, RecordService};
use crate::schema::Module;
use crate::schema::value::ValueOptions;
use crate::store::{Dialect, Store, Tx, sqlite_raw};
use crate::webhooks::{EventKind, outbox};

/// Conflicts with other writers in a row, without a commit between them, before a job gives up.
pub(crate) const MAX_WRITE_CONFLICTS: u32 = 8;

/// A write transaction holding one or more chunks.
struct OpenTransaction {
    tx: Tx,
    rows: usize,
    started: Instant,
    /// The chunks written in it, as the pipeline gave them, when it may have to be replayed
    /// (PostgreSQL): at most a commit's worth of rows.
    chunks: Vec<MappedChunk>,
}

impl OpenTransaction {
    async fn begin(store: &Store) -> Result<OpenTransaction> {
        Ok(OpenTransaction {
            tx: store.begin().await?,
            rows: 0,
            started: Instant::now(),
            chunks: Vec::new(),
        })
    }
}

/// What the importer had counted and reported at its last commit: everything a rolled-back
/// transaction may have changed. Errors, warnings and created ids only grow, so their lengths
/// say where they stood.
struct Committed {
    counters: Counters,
    errors: usize,
    errors_truncated: bool,
    errors_saved: usize,
    warnings: usize,
    created_ids: usize,
    reference_warnings: Vec<ReferenceWarning>,
    created_references: u64,
    cancel_seen: bool,
}

/// A row for the errors CSV, held until its transaction commits when that transaction may be
/// replayed (the replay reports the row again).
struct FailedRow {
    row_number: u64,
    cells: Vec<String>,
    errors: Vec<RowError>,
}

/// How long to wait before replaying after the `conflicts`-th conflict in a row: growing, and
/// jittered so that two writers that met do not meet again in step.
fn conflict_backoff(conflicts: u32) -> Duration {
    let ceiling = (20u64 << conflicts.min(6)).min(1_000);
    Duration::from_millis(rand::rng().random_range(ceiling / 2..=ceiling))
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

pub(crate) struct Importer<'a> {
    service: &'a RecordService,
    module: &'a Module,
    plan: &'a Arc<MappingPlan>,
    request: &'a ImportRequest,
    actor: &'a Actor,
    /// `actor` saying `source: "import"` and the job id of the versions it writes.
    importing_actor: Actor,
    job_id: Option<String>,
    decider: RowDecider<'a>,
    resolver: ReferenceResolver<'a>,
    counters: Counters,
    errors: Vec<RowError>,
    errors_truncated: bool,
    warnings: Vec<RowError>,
    created_ids: Vec<String>,
    /// The errors CSV (`--errors-out`), written as rows fail.
    pub(crate) errors_out: Option<ErrorsCsv>,
    /// The lease of a queued job, fencing every checkpoint.
    lease: Option<Lease>,
    /// How many of `errors` are saved with the job.
    errors_saved: usize,
    /// The last checkpoint saw a cancel request.
    cancel_seen: bool,
    /// The open transaction may be rolled back and replayed (PostgreSQL, not a dry run).
    replayable: bool,
    /// Rows for the errors CSV whose transaction has not committed yet (`replayable` only).
    failed_rows: Vec<FailedRow>,
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
        let importing_actor = match &job_id {
            Some(id) => actor.with_metadata(outbox::import_source(id)),
            None => actor.clone(),
        };
        Ok(Importer {
            service,
            module,
            plan,
            request,
            actor,
            importing_actor,
            decider: RowDecider {
                module,
                plan,
                request,
                match_on,
                written: plan.written_fields(),
                job_id: job_id.clone(),
                owner: service.access().member_id(),
            },
            resolver: ReferenceResolver {
                service,
                module,
                value_options,
                actor,
                job_id: job_id.clone(),
                create_missing: request.create_missing_references,
                cache: ResolutionCache::default(),
                warnings: resume.reference_warnings,
                created_count: 0,
            },
            job_id,
            counters: resume.counters,
            errors_truncated: resume.counters.error_rows > 0
                && resume.errors.len() >= MAX_REPORTED_ERRORS,
            errors_saved: resume.errors.len(),
            errors: resume.errors,
            warnings: Vec::new(),
            created_ids: Vec::new(),
            errors_out: None,
            lease: None,
            cancel_seen: false,
            replayable: false,
            failed_rows: Vec::new(),
        })
    }

    pub(crate) fn job_id(&self) -> Option<&str> {
        self.job_id.as_deref()
    }

    pub(crate) fn store(&self) -> &Store {
        self.service.store()
    }

    /// Ends job `job_id`, held under `lease`, as the run's `outcome` says: completed with its
    /// report; cancelled with what it wrote undone; failed with what it wrote undone (see
    /// [`fail_job`]); or left for later (stopped, lease lost).
    pub(crate) async fn settle(
        &self,
        job_id: &str,
        lease: &Lease,
        outcome: Result<RunEnd>,
    ) -> Result<Settled> {
        let store = self.service.store();
        match outcome {
            Ok(RunEnd::Finished) => {
                job::finish_job(
                    store,
                    job_id,
                    JobStatus::Completed,
                    &self.errors,
                    &self.resolver.warnings,
                    None,
                )
                .await?;
                Ok(Settled::Completed)
            }
            Ok(RunEnd::Cancelled) => {
                undo::undo_job(
                    store,
                    self.service.modules(),
                    job_id,
                    undo::Ending::Cancelled,
                    self.actor,
                    Some(lease),
                )
                .await?;
                Ok(Settled::Cancelled)
            }
            Ok(RunEnd::Stopped) | Err(Error::LeaseLost { .. }) => Ok(Settled::Interrupted),
            Err(error) => {
                fail_job(
                    self.service,
                    job_id,
                    self.actor,
                    lease,
                    &error,
                    &self.errors,
                    &self.resolver.warnings,
                )
                .await?;
                Ok(Settled::Failed(error))
            }
        }
    }

    /// Spec 002's execute response for this run.
    pub(crate) fn into_result(
        self,
        job_id: Option<String>,
        status: JobStatus,
        processing_mode: ProcessingMode,
        total_rows: u64,
        dry_run: bool,
    ) -> ImportResult {
        let counters = self.counters;
        ImportResult {
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
            created_record_ids_truncated: counters.created_rows as usize > self.created_ids.len(),
            created_record_ids: self.created_ids,
            created_reference_count: self.resolver.created_count,
            errors: self.errors,
            errors_truncated: self.errors_truncated,
            warnings: self.warnings,
            reference_warnings: self.resolver.warnings,
            dry_run,
        }
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
        self.replayable = dry_tx.is_none() && store.dialect() == Dialect::Postgres;
        let mut committed = self.committed();
        // Chunks of a rolled-back transaction, written again before the pipeline's next ones.
        let mut replay: VecDeque<MappedChunk> = VecDeque::new();
        let mut conflicts = 0u32;
        loop {
            let (chunk, replayed) = match replay.pop_front() {
                Some(chunk) => (chunk, true),
                None => match pipeline.chunks.recv().await {
                    Some(chunk) => (chunk?, false),
                    None => break,
                },
            };
            let rows = chunk.rows.len();
            let last_row = chunk.rows.last().map_or(0, |row| row.row_number);
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
                    let kept = self.replayable.then(|| chunk.clone());
                    match self.batch(&mut current.tx, chunk).await {
                        Ok(()) => {}
                        Err(error) if self.replayable && error.is_write_conflict() => {
                            let rolled_back = open.take().expect("a transaction is open");
                            let mut chunks = rolled_back.chunks;
                            chunks.extend(kept);
                            rolled_back.tx.rollback().await?;
                            conflicts += 1;
                            if conflicts > MAX_WRITE_CONFLICTS {
                                return Err(self.gave_up(&chunks, conflicts, &error));
                            }
                            tracing::info!(
                                job = self.job_id.as_deref().unwrap_or("-"),
                                conflicts,
                                chunks = chunks.len(),
                                "a batch met another writer ({error}); deciding its rows again"
                            );
                            self.restore(&committed);
                            for chunk in chunks.into_iter().rev() {
                                replay.push_front(chunk);
                            }
                            tokio::time::sleep(conflict_backoff(conflicts)).await;
                            continue;
                        }
                        Err(error) => return Err(error),
                    }
                    current.chunks.extend(kept);
                    current.rows += rows;
                    // A replayed chunk commits on its own: a short transaction is less likely to
                    // meet the other writer again, and each commit is progress kept.
                    let due = replayed
                        || ending_after(self)
                        || options
                            .pipeline
                            .commit
                            .is_due(current.rows, current.started);
                    if let Some(current) = open.take_if(|_| due) {
                        current.tx.commit().await?;
                        self.write_failed_rows()?;
                        committed = self.committed();
                        conflicts = 0;
                    }
                    due
                }
            };
            self.check_error_budget(last_row, total_rows)?;
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
            self.write_failed_rows()?;
            self.report_progress(options, total_rows);
        }
        // A dry run's transaction is dropped here: rolled back.
        drop(dry_tx);
        Ok(RunEnd::Finished)
    }

    /// The rows counted so far.
    pub(crate) fn counters(&self) -> Counters {
        self.counters
    }

    /// Where the run stands at a commit.
    fn committed(&self) -> Committed {
        Committed {
            counters: self.counters,
            errors: self.errors.len(),
            errors_truncated: self.errors_truncated,
            errors_saved: self.errors_saved,
            warnings: self.warnings.len(),
            created_ids: self.created_ids.len(),
            reference_warnings: self.resolver.warnings.clone(),
            created_references: self.resolver.created_count,
            cancel_seen: self.cancel_seen,
        }
    }

    /// Back to where the run stood at its last commit, after the open transaction rolled back.
    fn restore(&mut self, committed: &Committed) {
        self.counters = committed.counters;
        self.errors.truncate(committed.errors);
        self.errors_truncated = committed.errors_truncated;
        self.errors_saved = committed.errors_saved;
        self.warnings.truncate(committed.warnings);
        self.created_ids.truncate(committed.created_ids);
        self.resolver.restore(
            committed.reference_warnings.clone(),
            committed.created_references,
        );
        self.cancel_seen = committed.cancel_seen;
        self.failed_rows.clear();
    }

    /// The rows of a committed transaction that failed, into the errors CSV.
    fn write_failed_rows(&mut self) -> Result<()> {
        let failed = std::mem::take(&mut self.failed_rows);
        if let Some(out) = &mut self.errors_out {
            for row in failed {
                out.write(row.row_number, &row.cells, &row.errors)?;
            }
        }
        Ok(())
    }

    /// The error of a job whose batch met other writers `conflicts` times in a row.
    fn gave_up(&self, chunks: &[MappedChunk], conflicts: u32, last: &Error) -> Error {
        let first_row = chunks
            .first()
            .and_then(|c| c.rows.first())
            .map(|r| r.row_number);
        Error::Conflict {
            message: format!(
                "the rows from row {} on met another writer's changes {conflicts} times in a row \
                 (last: {last}); none of them was written: run the import again, or run \
                 overlapping imports one after the other",
                first_row.unwrap_or_default()
            ),
            details: json!({
                "jobId": self.job_id,
                "firstRow": first_row,
                "conflicts": conflicts,
                "cause": last.to_string(),
            }),
        }
    }

    /// Over its error budget the run stops as a failure (which undoes what it wrote).
    fn check_error_budget(&self, last_row: u64, total_rows: u64) -> Result<()> {
        match self.request.max_errors {
            Some(budget) if budget.exceeded(self.counters.error_rows, total_rows) => {
                Err(Error::ErrorBudgetExceeded {
                    job_id: self.job_id.clone(),
                    row: last_row,
                    error_rows: self.counters.error_rows,
                    budget: budget.to_string(),
                    limit: budget.limit(total_rows),
                    total_rows,
                })
            }
            _ => Ok(()),
        }
    }

    fn report_progress(&self, options: &RunOptions, total_rows: u64) {
        if let Some(progress) = &options.progress {
            progress(&Progress {
                total_rows,
                counters: self.counters,
                phase: Phase::Importing,
            });
        }
    }

    /// Decides and writes one chunk inside `tx`, with its ledger lines and the job's checkpoint.
    async fn batch(&mut self, tx: &mut Tx, chunk: MappedChunk) -> Result<()> {
        let MappedChunk { mut rows, cells } = chunk;
        let skip_validation = self.request.skip_validation;
        let written = &self.decider.written;
        self.resolver
            .resolve(tx, written, skip_validation, &mut rows)
            .await?;
        let importable: Vec<bool> = rows.iter().map(|r| r.importable(skip_validation)).collect();
        let keys: Vec<_> = rows
            .iter()
            .map(|r| match_keys(self.module, &r.fields))
            .collect();
        let wanted = keys
            .iter()
            .zip(&importable)
            .filter(|(_, ok)| **ok)
            .flat_map(|(k, _)| k.iter().filter(|k| self.decider.reads_holders(k)))
            .map(|k| (k.field_slug.clone(), k.key.clone()))
            .collect();
        let spaces = KeySpaces::of(tx, self.module).await?;
        let update = self.request.duplicate_strategy == DuplicateStrategy::Update;
        let module = self.module;
        let access = self.service.access();
        // A member's import matches only what the member may see: the stored holders of the
        // batch's keys are checked first, then the rest of the batch runs as for everyone.
        let hidden = if access.member_id().is_some() {
            let index = KeyIndex::load(tx, &spaces, &wanted).await?;
            let stored: Vec<&str> = index.stored_ids().into_iter().collect();
            let seen = access.visible_ids(tx, &stored).await?;
            stored
                .into_iter()
                .filter(|id| !seen.contains(*id))
                .map(str::to_string)
                .collect()
        } else {
            Vec::new()
        };
        let state = if tx.dialect() == Dialect::Sqlite {
            // One raw session for the whole batch: lookups, decisions, records and ledger.
            sqlite_raw::with_raw(tx, |connection| {
                let mut index = KeyIndex::load_sqlite(connection, &spaces, &wanted)?;
                index.hide(hidden);
                let loaded = if update {
                    load_records_sqlite(connection, module, index.stored_ids())?
                } else {
                    HashMap::new()
                };
                let state = self.decide_rows(rows, &cells, &importable, &keys, index, loaded)?;
                self.decisions(&spaces, &state).write_sqlite(connection)?;
                Ok(state)
            })
            .await?
        } else {
            let mut index = KeyIndex::load(tx, &spaces, &wanted).await?;
            index.hide(hidden);
            let loaded = if update {
                let ids: Vec<String> = index.stored_ids().into_iter().map(str::to_string).collect();
                load_records(tx, module, &ids).await?
            } else {
                HashMap::new()
            };
            let state = self.decide_rows(rows, &cells, &importable, &keys, index, loaded)?;
            self.decisions(&spaces, &state).write(tx).await?;
            state
        };
        let Some(job_id) = &self.job_id else {
            return Ok(());
        };
        // Webhooks hear of a batch once, with its record ids, in the batch's transaction.
        for (event, is_new) in [
            (EventKind::BulkCreated, true),
            (EventKind::BulkUpdated, false),
        ] {
            let ids: Vec<&str> = state
                .order
                .iter()
                .filter(|id| state.working.get(*id).is_some_and(|w| w.is_new == is_new))
                .map(String::as_str)
                .collect();
            let metadata = outbox::import_metadata(self.actor, job_id);
            outbox::bulk_event(tx, event, self.module.slug(), &ids, metadata).await?;
        }
        let seen = job::checkpoint(
            tx,
            job_id,
            Checkpoint {
                counters: &self.counters,
                new_errors: &self.errors[self.errors_saved..],
                first_error_seq: self.errors_saved,
                reference_warnings: &self.resolver.warnings,
                lease: self.lease.as_ref(),
            },
        )
        .await?;
        self.errors_saved = self.errors.len();
        self.cancel_seen = seen.cancel_requested;
        Ok(())
    }

    /// What a batch decided (`state`), to write.
    fn decisions<'s>(&'s self, spaces: &'s KeySpaces, state: &'s BatchState) -> Decisions<'s> {
        Decisions {
            module: self.module,
            spaces,
            actor: &self.importing_actor,
            job_id: self.job_id.as_deref(),
            working: &state.working,
            order: &state.order,
        }
    }

    /// Decides each row of a batch in file order against what the store held (`index`,
    /// `loaded`) and what earlier rows did, and counts the outcomes.
    fn decide_rows(
        &mut self,
        rows: Vec<MappedRow>,
        cells: &[Option<Vec<String>>],
        importable: &[bool],
        keys: &[Vec<MatchKey>],
        index: KeyIndex,
        loaded: HashMap<String, Record>,
    ) -> Result<BatchState> {
        let mut state = BatchState {
            index,
            loaded,
            ..BatchState::default()
        };
        for (i, mut row) in rows.into_iter().enumerate() {
            self.counters.processed_rows += 1;
            let outcome = if importable[i] {
                if !row.errors.is_empty() {
                    // Listed up to the same cap as errors: a file of bad values must not grow
                    // the result (and the process) with every row.
                    let room = MAX_REPORTED_ERRORS.saturating_sub(self.warnings.len());
                    self.warnings.extend(row.errors.drain(..).take(room));
                }
                self.decider.decide(&mut state, &row, &keys[i])?
            } else {
                RowOutcome::Failed(std::mem::take(&mut row.errors))
            };
            let row_cells = cells.get(i).and_then(Option::as_deref).unwrap_or(&[]);
            self.count(row.row_number, row_cells, outcome)?;
        }
        Ok(state)
    }

    /// Counts one row's outcome and reports its errors (the errors CSV gets the row's cells).
    fn count(&mut self, row_number: u64, cells: &[String], outcome: RowOutcome) -> Result<()> {
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
                if self.replayable && self.errors_out.is_some() {
                    self.failed_rows.push(FailedRow {
                        row_number,
                        cells: cells.to_vec(),
                        errors: errors.clone(),
                    });
                } else if let Some(out) = &mut self.errors_out {
                    out.write(row_number, cells, &errors)?;
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
        Ok(())
    }
}
