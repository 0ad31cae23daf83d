//! `recordport import …`: the steps of spec 002 on files.

use crate::import::{JobStatus, Submission, cancel, submit};
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::{Args, Subcommand};
use serde_json::{Value, json};

use super::{ModuleArg, Output, examples, read_arg_text, rows_table, table};
use crate::error::{Error, Result};
use crate::import::locale::value_options_for;
use crate::import::memory::{suggest_for_file, suggested_request};
use crate::import::{
    CommitPolicy, DuplicateStrategy, ImportRequest, ImportResult, MergeMode, PipelineOptions,
    RunOptions, SourceLimits, SourceOptions, execute_file, get_job, list_jobs, parse_file,
    rollback, validate_file,
};
use crate::records::{Actor, RecordService};

#[derive(Debug, Subcommand)]
pub enum ImportCommand {
    /// Step 1: read a file's columns, a sample of its rows and its row count.
    #[command(
        after_help = examples(&["import parse contacts.csv", "import parse workbook.xlsx --sheet Leads"])
    )]
    Parse {
        /// The file: CSV, XLSX/XLSM, XLS, ODS or Parquet.
        file: PathBuf,
        #[command(flatten)]
        source: SourceArgs,
    },
    /// Step 2: suggest a column-to-field mapping for a file.
    #[command(after_help = examples(&["import suggest contacts.csv --module contacts"]))]
    Suggest {
        /// The file: CSV, XLSX/XLSM, XLS, ODS or Parquet.
        file: PathBuf,
        #[command(flatten)]
        module: ModuleArg,
        #[command(flatten)]
        source: SourceArgs,
    },
    /// Step 3: check every row of a file against a mapping, writing nothing.
    #[command(
        after_help = examples(&["import validate contacts.csv --module contacts", "import validate contacts.csv --module contacts --mapping @mapping.json --locale de-DE"])
    )]
    Validate {
        /// The file: CSV, XLSX/XLSM, XLS, ODS or Parquet.
        file: PathBuf,
        #[command(flatten)]
        module: ModuleArg,
        #[command(flatten)]
        mapping: MappingArgs,
        #[command(flatten)]
        source: SourceArgs,
        #[command(flatten)]
        pipeline: PipelineArgs,
    },
    /// Step 4: import a file as a job (created, updated, skipped and failed rows are reported).
    #[command(
        after_help = examples(&["import run contacts.csv --module contacts", "import run contacts.xlsx --module contacts --strategy update --match email --merge prefer_import", "import run big.csv --module contacts --max-errors 5% --errors-out failed.csv"])
    )]
    Run(Box<RunArgs>),
    /// List a module's import jobs, newest first.
    #[command(after_help = examples(&["import jobs --module contacts --limit 10"]))]
    Jobs {
        #[command(flatten)]
        module: ModuleArg,
        /// At most this many (1-100).
        #[arg(long, default_value_t = 50)]
        limit: i64,
    },
    /// Show one import job.
    #[command(after_help = examples(&["import job --module contacts job_0190c3b1-…"]))]
    Job {
        #[command(flatten)]
        module: ModuleArg,
        /// The import job's id (job_…).
        id: String,
    },
    /// Cancel a pending or running job (a running job stops at its next batch and is rolled
    /// back).
    #[command(
        after_help = examples(&["import cancel --module contacts job_0190c3b1-…"])
    )]
    Cancel {
        #[command(flatten)]
        module: ModuleArg,
        /// The import job's id (job_…).
        id: String,
    },
    /// Undo an import: delete the records it created, restore the records it updated.
    #[command(
        after_help = examples(&["import rollback --module contacts job_0190c3b1-…"])
    )]
    Rollback {
        #[command(flatten)]
        module: ModuleArg,
        /// The import job's id (job_…).
        id: String,
    },
}

#[derive(Debug, Args)]
pub struct MappingArgs {
    /// The column mapping as JSON (a columnMapping array or an execute body), or @FILE. Default:
    /// the suggested mapping.
    #[arg(long)]
    pub mapping: Option<String>,
    /// A value for every record, FIELD=VALUE (used where the row leaves the field empty).
    #[arg(long = "static", value_name = "FIELD=VALUE")]
    pub static_values: Vec<String>,
    /// How values are read, e.g. en-US, en-GB, de-DE, fr-FR: the day/month order of dates, the
    /// decimal mark of numbers (de-DE reads 1.234,5) and the region of phone numbers without a
    /// country code (default: the module's locale, else the file's values decide; where none
    /// does, a warning `ambiguous_date` or `ambiguous_number`).
    #[arg(long, value_name = "LOCALE")]
    pub locale: Option<String>,
}

#[derive(Debug, Args)]
pub struct PipelineArgs {
    /// Rows per chunk (the unit of mapping, deciding and checkpointing).
    #[arg(long, default_value_t = PipelineOptions::default().chunk_rows)]
    pub chunk_rows: usize,
    /// Rows per write transaction at most.
    #[arg(long, default_value_t = CommitPolicy::default().rows)]
    pub commit_rows: usize,
    /// Milliseconds a write transaction stays open at most (it holds the store's write lock).
    #[arg(long, default_value_t = CommitPolicy::default().interval.as_millis() as u64)]
    pub commit_ms: u64,
    /// Threads mapping and validating rows (0 = one per core).
    #[arg(long, default_value_t = 0)]
    pub threads: usize,
}

impl PipelineArgs {
    pub(crate) fn options(&self) -> PipelineOptions {
        PipelineOptions {
            chunk_rows: self.chunk_rows,
            threads: self.threads,
            commit: CommitPolicy {
                rows: self.commit_rows,
                interval: Duration::from_millis(self.commit_ms),
            },
            ..PipelineOptions::default()
        }
    }
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// The file to import: CSV, XLSX/XLSM, XLS, ODS or Parquet.
    file: PathBuf,
    #[command(flatten)]
    module: ModuleArg,
    #[command(flatten)]
    mapping: MappingArgs,
    /// What to do with a row that matches an existing record.
    #[arg(long, value_enum)]
    strategy: Option<StrategyArg>,
    /// Fields that identify a duplicate, comma-separated (default: the unique fields, else email).
    #[arg(long = "match", value_delimiter = ',')]
    match_fields: Vec<String>,
    /// How an update merges the row into the record.
    #[arg(long, value_enum)]
    merge: Option<MergeArg>,
    /// Create records in referenced modules for names that match none.
    #[arg(long)]
    create_missing_references: bool,
    /// Import rows with bad values, leaving those values out (not recommended).
    #[arg(long)]
    skip_validation: bool,
    /// Do everything in a transaction that is rolled back: the report, no changes, no job.
    #[arg(long)]
    dry_run: bool,
    /// Write the failed rows, with their errors, to this CSV file.
    #[arg(long, value_name = "FILE.csv")]
    errors_out: Option<PathBuf>,
    /// The error budget: more failed rows than N, or than N% of the file's rows, stop the import,
    /// which then fails and undoes what it wrote (default: no budget, every row is tried).
    #[arg(long, value_name = "N|N%")]
    max_errors: Option<crate::import::ErrorBudget>,
    /// Seconds after this process dies (stops renewing its lease) that the job counts as
    /// abandoned, so that a worker or `import rollback` may undo it.
    #[arg(long, default_value_t = 60.0)]
    lease_secs: f64,
    /// Seconds between the progress events `--log-json` adds to the log.
    #[arg(long, default_value_t = 5.0)]
    progress_secs: f64,
    /// Queue the import for a worker (`recordport worker`) and print the job id at once.
    #[arg(long, conflicts_with_all = ["dry_run", "errors_out"])]
    background: bool,
    /// With --background: copy the file into this directory for the worker (default: the
    /// worker reads the file where it is).
    #[arg(long, value_name = "DIR", requires = "background")]
    jobs_dir: Option<PathBuf>,
    #[command(flatten)]
    source: SourceArgs,
    #[command(flatten)]
    pipeline: PipelineArgs,
}

/// Spec 002's `duplicateStrategy` values.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum StrategyArg {
    /// Leave the matching record alone; the row counts as skipped.
    Skip,
    /// Merge the row into the matching record (see --merge).
    Update,
    /// Create a new record anyway.
    Create,
}

/// Spec 002's `mergeMode` values, spelled as the spec does; the kebab-case spelling is an alias
/// (the one this CLI used first).
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum MergeArg {
    /// Only fields empty on the record take the file's value.
    #[value(name = "fill_empty", alias = "fill-empty")]
    FillEmpty,
    /// Every mapped field takes the file's value; an empty cell clears it.
    Overwrite,
    /// The file's values win; an empty cell keeps the record's value.
    #[value(name = "prefer_import", alias = "prefer-import")]
    PreferImport,
}

#[derive(Debug, Args)]
pub struct SourceArgs {
    /// Sheet of a workbook (default: the first).
    #[arg(long)]
    pub sheet: Option<String>,
    /// Encoding of a CSV file (default: detected), e.g. utf-8, windows-1252, utf-16le.
    #[arg(long)]
    pub encoding: Option<String>,
    /// Delimiter of a CSV file (default: detected among , ; tab |).
    #[arg(long)]
    pub delimiter: Option<char>,
    /// Largest file accepted, in MiB (default and 0: no cap; a local file is the user's own, the
    /// HTTP upload limit of `serve` is separate).
    #[arg(long, value_name = "MIB")]
    pub max_file_mb: Option<u64>,
    /// Most cells a workbook (XLSX, XLS, ODS) may hold; a sheet is held whole while it is read,
    /// about 64 bytes a cell. XLS and ODS count the rectangle a sheet's cells span.
    #[arg(long, value_name = "N", default_value_t = SourceLimits::default().max_cells)]
    pub max_cells: u64,
}

impl SourceArgs {
    fn options(&self) -> SourceOptions {
        SourceOptions {
            limits: SourceLimits {
                max_file_bytes: match self.max_file_mb {
                    None | Some(0) => SourceLimits::NO_FILE_CAP,
                    Some(mib) => mib.saturating_mul(1024 * 1024),
                },
                max_cells: self.max_cells,
                ..SourceLimits::default()
            },
            sheet: self.sheet.clone(),
            encoding: self.encoding.clone(),
            delimiter: self.delimiter,
            ..SourceOptions::default()
        }
    }
}

pub async fn run(
    service: &RecordService,
    cmd: ImportCommand,
    actor: &Actor,
    out: &Output,
) -> Result<()> {
    match cmd {
        ImportCommand::Parse { file, source } => {
            let parsed = parse_file(&file, &source.options())?;
            out.print(&json!({ "success": true, "data": parsed }), || {
                let mut text = format!(
                    "{}: {} rows, {} columns ({:?}{}{})\n",
                    parsed.file_name,
                    parsed.total_rows,
                    parsed.source_columns.len(),
                    parsed.file_type,
                    parsed
                        .encoding
                        .as_deref()
                        .map(|e| format!(", {e}"))
                        .unwrap_or_default(),
                    parsed
                        .delimiter
                        .as_deref()
                        .map(|d| format!(", delimiter {d:?}"))
                        .unwrap_or_default(),
                );
                let mut t = table(
                    &parsed
                        .source_columns
                        .iter()
                        .map(String::as_str)
                        .collect::<Vec<_>>(),
                );
                for row in parsed.sample_rows.iter().take(5) {
                    t.add_row(
                        parsed
                            .source_columns
                            .iter()
                            .map(|c| {
                                row.get(c)
                                    .and_then(|v| v.as_str())
                                    .unwrap_or_default()
                                    .to_string()
                            })
                            .collect::<Vec<_>>(),
                    );
                }
                text.push_str(&t.to_string());
                for d in &parsed.row_defects {
                    text.push_str(&format!("\nrow {}: {}", d.row, d.message));
                }
                text
            })
        }
        ImportCommand::Suggest {
            file,
            module,
            source,
        } => {
            let module = service.modules().get(&module.module).await?;
            let result =
                suggest_for_file(service.store(), &module, &file, &source.options()).await?;
            out.print(&json!({ "success": true, "data": result }), || {
                rows_table(
                    &["column", "field", "confidence", "kind / part"],
                    &result.suggestions,
                    |s| {
                        vec![
                            s.source_column.clone(),
                            s.target_field_slug
                                .clone()
                                .unwrap_or_else(|| "(unmapped)".into()),
                            format!("{:.2}", s.confidence),
                            s.value_type
                                .clone()
                                .or_else(|| s.address_part.clone())
                                .unwrap_or_default(),
                        ]
                    },
                )
            })
        }
        ImportCommand::Validate {
            file,
            module,
            mapping,
            source,
            pipeline,
        } => {
            let options = source.options();
            let request = mapping
                .request(service, &module.module, &file, &options)
                .await?;
            let module = service.modules().get(&module.module).await?;
            let (value_options, value_warnings) = value_options_for(
                &module,
                &file,
                &options,
                &request.column_mapping,
                request.locale.as_deref(),
            )?;
            let mut report = validate_file(
                &module,
                &file,
                &options,
                &request.column_mapping,
                &request.static_values,
                &value_options,
                pipeline.options(),
            )
            .await?;
            report.warnings.splice(0..0, value_warnings);
            out.print(&json!({ "success": true, "data": report }), || {
                let mut text = format!(
                    "{}: {} rows, {} valid, {} with errors\n",
                    if report.is_valid { "valid" } else { "invalid" },
                    report.total_rows,
                    report.valid_rows,
                    report.error_rows
                );
                text.push_str(&errors_table(&report.errors, report.error_rows, None));
                for w in &report.warnings {
                    text.push_str(&format!(
                        "\nwarning (row {}, {}): {}",
                        w.row, w.field, w.message
                    ));
                }
                text
            })
        }
        ImportCommand::Run(args) if args.background => {
            let module = args.module.module.clone();
            let (request, source) = run_request(service, &args).await?;
            let job = submit(
                service,
                &module,
                Submission {
                    file: args.file.clone(),
                    file_name: None,
                    request,
                    source,
                    actor: actor.clone(),
                    copy_into: args.jobs_dir.clone(),
                },
            )
            .await?;
            out.print(&json!({ "success": true, "data": job }), || {
                format!(
                    "queued import job {} ({}): run `recordport worker` to process it",
                    job.import_job_id,
                    job.status.as_str()
                )
            })
        }
        ImportCommand::Cancel { module, id } => {
            let job = cancel(service.store(), service.modules(), &module.module, &id).await?;
            out.print(&json!({ "success": true, "data": job }), || {
                if job.status == JobStatus::Cancelled {
                    format!("import job {} cancelled", job.import_job_id)
                } else {
                    format!(
                        "import job {} stops at its next batch and is rolled back",
                        job.import_job_id
                    )
                }
            })
        }
        ImportCommand::Run(args) => {
            let errors_out = args.errors_out.clone();
            let result = run_import(service, *args, actor, out.log_json).await?;
            out.print(&json!({ "success": true, "data": result }), || {
                run_summary(&result, errors_out.as_deref())
            })
        }
        ImportCommand::Jobs { module, limit } => {
            let jobs = list_jobs(
                service.store(),
                service.modules(),
                &module.module,
                Some(limit),
            )
            .await?;
            out.print(&json!({ "success": true, "data": jobs }), || {
                rows_table(
                    &[
                        "job",
                        "status",
                        "file",
                        "rows",
                        "created",
                        "updated",
                        "skipped",
                        "errors",
                        "created at",
                    ],
                    &jobs,
                    |j| {
                        vec![
                            j.import_job_id.clone(),
                            j.status.as_str().to_string(),
                            j.file_name.clone().unwrap_or_default(),
                            j.total_rows.to_string(),
                            j.created_rows.to_string(),
                            j.updated_rows.to_string(),
                            j.skipped_rows.to_string(),
                            j.error_rows.to_string(),
                            j.created_date_time.clone(),
                        ]
                    },
                )
            })
        }
        ImportCommand::Job { module, id } => {
            let job = get_job(service.store(), service.modules(), &module.module, &id).await?;
            out.print(&json!({ "success": true, "data": job }), || {
                let mut t = table(&["", ""]);
                for (name, value) in [
                    ("job", job.import_job_id.clone()),
                    ("status", job.status.as_str().to_string()),
                    ("mode", job.processing_mode.as_str().to_string()),
                    ("file", job.file_name.clone().unwrap_or_default()),
                    (
                        "rows",
                        format!("{} of {}", job.processed_rows, job.total_rows),
                    ),
                    (
                        "rows/s",
                        job.rows_per_second
                            .map(|r| r.to_string())
                            .unwrap_or_default(),
                    ),
                    ("worker", job.worker_id.clone().unwrap_or_default()),
                    ("attempts", job.attempts.to_string()),
                    ("created", job.created_rows.to_string()),
                    ("updated", job.updated_rows.to_string()),
                    ("unchanged", job.unchanged_rows.to_string()),
                    ("skipped", job.skipped_rows.to_string()),
                    ("errors", job.error_rows.to_string()),
                    (
                        "strategy",
                        format!(
                            "{} / {}",
                            job.duplicate_strategy.as_str(),
                            job.merge_mode.as_str()
                        ),
                    ),
                    ("created at", job.created_date_time.clone()),
                    (
                        "completed at",
                        job.completed_date_time.clone().unwrap_or_default(),
                    ),
                    ("expires at", job.expires_date_time.clone()),
                ] {
                    t.add_row(vec![name.to_string(), value]);
                }
                let mut text = t.to_string();
                if let Some(failure) = &job.failure {
                    text.push_str(&format!("\nfailed: {failure}"));
                }
                if job.undo_pending {
                    text.push_str(
                        "\nwhat the job wrote is being undone; it ends once that is done",
                    );
                }
                if !job.errors.is_empty() {
                    text.push('\n');
                    text.push_str(&errors_table(&job.errors, job.error_rows, None));
                }
                text
            })
        }
        ImportCommand::Rollback { module, id } => {
            let outcome = rollback(
                service.store(),
                service.modules(),
                &module.module,
                &id,
                actor,
            )
            .await?;
            // The job's row counters, to explain the record counts: rows and records differ.
            let job = get_job(service.store(), service.modules(), &module.module, &id).await?;
            out.print(&json!({ "success": true, "data": outcome }), || {
                let mut text = format!(
                    "rolled back {id}: {} created records deleted, {} updated records restored",
                    outcome.deleted_count, outcome.restored_count
                );
                text.push_str(&rollback_explained(
                    job.created_rows,
                    job.updated_rows,
                    &outcome,
                ));
                for c in &outcome.conflicts {
                    text.push_str(&format!("\nleft alone {}: {}", c.record_id, c.reason));
                }
                text
            })
        }
    }
}

/// Why a rollback's record counts differ from the job's row counts: an update of a record the
/// same import had created leaves nothing to restore (the record is deleted, counted as
/// created), and rows that update one record again restore it once.
fn rollback_explained(
    created_rows: u64,
    updated_rows: u64,
    outcome: &crate::import::RollbackOutcome,
) -> String {
    let accounted = outcome.restored_count + outcome.conflicts.len() as u64;
    let other = updated_rows.saturating_sub(accounted);
    if other == 0 {
        return String::new();
    }
    format!(
        "\n  the job had {created_rows} created and {updated_rows} updated rows: {} of the updated \
         rows changed records that existed before it (restored); the other {other} changed \
         records this import had created (counted as created: deleted) or a record an earlier \
         row had already changed (restored once)",
        outcome.restored_count
    )
}

impl MappingArgs {
    /// The execute body: from `--mapping` (an array or a whole body), else the suggestions, plus
    /// the `--static` values.
    async fn request(
        &self,
        service: &RecordService,
        module: &str,
        file: &Path,
        options: &SourceOptions,
    ) -> Result<ImportRequest> {
        let mut request = match &self.mapping {
            Some(arg) => {
                let value: Value = serde_json::from_str(&read_arg_text(arg)?)
                    .map_err(|e| Error::json("--mapping", e))?;
                if value.is_array() {
                    ImportRequest {
                        column_mapping: serde_json::from_value(value)
                            .map_err(|e| Error::json("--mapping", e))?,
                        ..ImportRequest::default()
                    }
                } else {
                    serde_json::from_value(value).map_err(|e| Error::json("--mapping", e))?
                }
            }
            None => {
                let module = service.modules().get(module).await?;
                suggested_request(service.store(), &module, file, options).await?
            }
        };
        if let Some(locale) = &self.locale {
            request.locale = Some(locale.clone());
        }
        for pair in &self.static_values {
            let (field, value) = pair.split_once('=').ok_or_else(|| {
                Error::invalid_field("--static", "expected FIELD=VALUE", Some(json!(pair)))
            })?;
            request
                .static_values
                .insert(field.trim().to_string(), Value::String(value.to_string()));
        }
        Ok(request)
    }
}

/// The request and source options a `run` asks for.
async fn run_request(
    service: &RecordService,
    args: &RunArgs,
) -> Result<(ImportRequest, SourceOptions)> {
    let source = args.source.options();
    let mut request = args
        .mapping
        .request(service, &args.module.module, &args.file, &source)
        .await?;
    if let Some(strategy) = args.strategy {
        request.duplicate_strategy = match strategy {
            StrategyArg::Skip => DuplicateStrategy::Skip,
            StrategyArg::Update => DuplicateStrategy::Update,
            StrategyArg::Create => DuplicateStrategy::Create,
        };
    }
    if let Some(merge) = args.merge {
        request.merge_mode = match merge {
            MergeArg::FillEmpty => MergeMode::FillEmpty,
            MergeArg::Overwrite => MergeMode::Overwrite,
            MergeArg::PreferImport => MergeMode::PreferImport,
        };
    }
    if !args.match_fields.is_empty() {
        request.duplicate_match_fields = args.match_fields.clone();
    }
    if let Some(budget) = args.max_errors {
        request.max_errors = Some(budget);
    }
    request.create_missing_references |= args.create_missing_references;
    request.skip_validation |= args.skip_validation;
    Ok((request, source))
}

async fn run_import(
    service: &RecordService,
    args: RunArgs,
    actor: &Actor,
    log_json: bool,
) -> Result<ImportResult> {
    let (request, source) = run_request(service, &args).await?;
    let module = service.modules().get(&args.module.module).await?;
    let (value_options, value_warnings) = value_options_for(
        &module,
        &args.file,
        &source,
        &request.column_mapping,
        request.locale.as_deref(),
    )?;
    // Said before anything is written (the JSON answer is the spec's and has no room for them).
    for w in &value_warnings {
        tracing::warn!(code = w.code.as_str(), field = %w.field, row = w.row, "{}", w.message);
    }
    let mut options = RunOptions::new(actor.clone());
    options.value_options = value_options;
    options.source = source;
    options.pipeline = args.pipeline.options();
    options.dry_run = args.dry_run;
    options.errors_out = args.errors_out.clone();
    options.lease = super::seconds_arg("--lease-secs", args.lease_secs)?;
    let interval = super::seconds_arg("--progress-secs", args.progress_secs)?;
    let reporter = super::progress::ProgressReporter::start(log_json, interval);
    options.progress = Some(reporter.callback());
    let result = execute_file(service, &args.module.module, &args.file, &request, &options).await;
    reporter.finish();
    result
}

fn run_summary(result: &ImportResult, errors_out: Option<&Path>) -> String {
    let mut text = format!(
        "{}{} rows: {} created, {} updated, {} unchanged, {} skipped, {} failed{}{}\n",
        if result.dry_run {
            "dry run, nothing written: "
        } else {
            ""
        },
        result.total_rows,
        result.created_rows,
        result.updated_rows,
        result.unchanged_rows,
        result.skipped_rows,
        result.error_rows,
        // Spec 002's mode says where a run of this size goes through the API; this run was here,
        // so only `sync` (run at once, in the caller) is true of it.
        if result.processing_mode == crate::import::ProcessingMode::Sync {
            " (sync mode)"
        } else {
            ""
        },
        result
            .import_job_id
            .as_deref()
            .map(|id| format!(", job {id}"))
            .unwrap_or_default(),
    );
    if result.created_reference_count > 0 {
        text.push_str(&format!(
            "{} referenced records created\n",
            result.created_reference_count
        ));
    }
    text.push_str(&errors_table(
        &result.errors,
        result.error_rows,
        Some(errors_out.map_or(FullList::Hint, FullList::File)),
    ));
    for w in &result.reference_warnings {
        text.push_str(&format!(
            "\nwarning: {} values match no {} record and were left empty: {}",
            w.field_label,
            w.target_module_slug,
            w.unresolved_values.join(", ")
        ));
    }
    text
}

/// A cell value cut to fit a table column.
fn clip(value: &str) -> String {
    if value.chars().count() > 40 {
        format!("{}…", value.chars().take(39).collect::<String>())
    } else {
        value.to_string()
    }
}

/// Where every failed row can be found, for the line under a cut error table.
enum FullList<'a> {
    /// `--errors-out` wrote them to this file.
    File(&'a Path),
    /// Nothing wrote them: say how to get them.
    Hint,
}

/// The rows shown in an error table; the JSON output lists more, `--errors-out` all.
const TABLE_ERRORS: usize = 20;

/// Row errors as a table (the first 20), then how many rows failed in all and where the full
/// list is (`full_list`: None for a validation, which writes no file).
fn errors_table(
    errors: &[crate::import::RowError],
    error_rows: u64,
    full_list: Option<FullList<'_>>,
) -> String {
    if errors.is_empty() && error_rows == 0 {
        return String::new();
    }
    let mut t = table(&["row", "code", "field", "column", "value", "error"]);
    for e in errors.iter().take(TABLE_ERRORS) {
        t.add_row(vec![
            e.row.to_string(),
            e.code.as_str().to_string(),
            e.field.clone().unwrap_or_default(),
            e.column.clone().unwrap_or_default(),
            e.value.as_deref().map(clip).unwrap_or_default(),
            e.error.clone(),
        ]);
    }
    let mut text = t.to_string();
    let shown = errors.len().min(TABLE_ERRORS);
    if shown < errors.len() || (error_rows as usize) > shown {
        text.push_str(&format!(
            "\n{shown} of the errors shown; {error_rows} rows failed in all"
        ));
        match full_list {
            Some(FullList::File(path)) => text.push_str(&format!(
                "; every failed row, with its errors, is in {}",
                path.display()
            )),
            Some(FullList::Hint) => text.push_str(
                "; --errors-out FILE.csv writes every failed row with its errors (--json lists \
                 the first 1000)",
            ),
            None => text.push_str(
                "; --json lists the first 1000, `import run --errors-out FILE.csv` writes them all",
            ),
        }
    }
    text
}
