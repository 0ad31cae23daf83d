//! `recordport export …`: export a module's records to CSV, PDF or Parquet, and read export jobs.
//!
//! Every export runs in the foreground. One that is large (more than 10,000 records, where the
//! API would make a job) or asked for with `--job` is also recorded as an export job: its file is
//! written to the exports directory like a worker's would be, kept there for 24 hours, and then
//! linked (or copied) to `-o`.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};
use serde_json::{Value, json};

use super::{Output, examples, read_arg_text, rows_table, table};
use crate::error::{Error, Result};
use crate::export::{
    self, DEFAULT_PAGE_SIZE, Delivery, ExportFormat, ExportJob, ExportRequest, ExportSettings,
    ExportSummary,
};
use crate::records::query::parse_direction;
use crate::records::{Actor, RecordService};

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct ExportCommand {
    #[command(subcommand)]
    pub jobs: Option<JobsCommand>,
    #[command(flatten)]
    pub args: ExportArgs,
}

#[derive(Debug, Subcommand)]
pub enum JobsCommand {
    /// List export jobs, newest first.
    #[command(after_help = examples(&["export jobs --limit 10"]))]
    Jobs {
        /// At most this many (1-100).
        #[arg(long, default_value_t = 25)]
        limit: u32,
    },
    /// Show one export job.
    #[command(after_help = examples(&["export job exp_0190c3b1-…"]))]
    Job {
        /// The export job's id (exp_…).
        id: String,
    },
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Module slug, e.g. contacts.
    #[arg(short, long, required = true)]
    pub module: Option<String>,
    /// csv, pdf or parquet.
    #[arg(short, long, required = true)]
    pub format: Option<String>,
    /// Columns, comma-separated: field slugs, core fields (displayName, id, owner,
    /// createdDateTime, …) or parts (address.city, phone.mobile, account.id).
    #[arg(long, value_delimiter = ',')]
    pub columns: Option<Vec<String>>,
    /// A header label: column=Label; repeat for more.
    #[arg(long = "label", value_name = "COLUMN=LABEL")]
    pub labels: Vec<String>,
    /// Leave out the CSV header row.
    #[arg(long)]
    pub no_headers: bool,
    /// Records to export, as JSON (or @FILE): {"field": "a,b", …} like filter[field], or an
    /// advancedFilter group {"conjunction": "AND", "conditions": […]}.
    #[arg(long, value_name = "JSON")]
    pub filter: Option<String>,
    /// Only records matching these words (in any text field).
    #[arg(long)]
    pub search: Option<String>,
    /// field:asc or field:desc (default: newest first).
    #[arg(long, value_name = "FIELD[:DIR]")]
    pub sort: Option<String>,
    /// At most this many records.
    #[arg(long)]
    pub limit: Option<u64>,
    /// strftime format for dates and date-times in CSV and PDF, e.g. %d/%m/%Y.
    #[arg(long, value_name = "FORMAT")]
    pub date_format: Option<String>,
    /// PDF title.
    #[arg(long)]
    pub title: Option<String>,
    /// PDF description, under the title.
    #[arg(long)]
    pub description: Option<String>,
    /// Output file; `-` writes to stdout (default: MODULE-export-DATE.EXT here).
    #[arg(short, long)]
    pub output: Option<PathBuf>,
    /// Record the export as an export job even when it is small.
    #[arg(long)]
    pub job: bool,
    /// Queue the export job for a worker (`recordport worker`) and print it at once; the file
    /// is then fetched with `export job ID`.
    #[arg(long, conflicts_with = "output")]
    pub background: bool,
    #[command(flatten)]
    pub data: super::DataDirArgs,
    /// Where export jobs keep their files [default: DATA_DIR/exports].
    #[arg(long, env = "RECORDPORT_EXPORT_DIR", value_name = "DIR")]
    pub export_dir: Option<PathBuf>,
}

pub async fn run(
    service: &RecordService,
    cmd: ExportCommand,
    actor: &Actor,
    out: &Output,
    database_url: &str,
) -> Result<()> {
    let store = service.store();
    match cmd.jobs {
        Some(JobsCommand::Jobs { limit }) => {
            let jobs = export::list_jobs(store, limit).await?;
            out.print(&json!({ "jobs": jobs }), || jobs_table(&jobs))
        }
        Some(JobsCommand::Job { id }) => {
            let job = export::get_job(store, &id).await?;
            out.print(&job, || job_text(&job))
        }
        None => run_export(service, cmd.args, actor, out, database_url).await,
    }
}

fn request_of(args: &ExportArgs, format: ExportFormat) -> Result<ExportRequest> {
    let mut request = ExportRequest::new(format);
    let config = &mut request.config;
    config.columns = args.columns.clone();
    for label in &args.labels {
        let (key, text) = label.split_once('=').ok_or_else(|| {
            Error::validation(format!("--label '{label}': expected column=Label"))
        })?;
        config
            .column_labels
            .insert(key.trim().to_string(), text.to_string());
    }
    config.include_headers = Some(!args.no_headers);
    config.date_format = args.date_format.clone();
    config.title = args.title.clone();
    config.description = args.description.clone();
    config.limit = args.limit;
    config.search = args.search.clone();
    if let Some(sort) = &args.sort {
        match sort.rsplit_once(':') {
            Some((field, dir)) => {
                config.sort_field = Some(field.to_string());
                config.sort_direction = Some(parse_direction(dir)?);
            }
            None => config.sort_field = Some(sort.clone()),
        }
    }
    if let Some(text) = &args.filter {
        let filter: Value =
            serde_json::from_str(&read_arg_text(text)?).map_err(|e| Error::json("--filter", e))?;
        match filter {
            Value::Object(map) if map.contains_key("conditions") || map.contains_key("root") => {
                config.advanced_filter = Some(Value::Object(map));
            }
            Value::Object(map) => config.filter = map.into_iter().collect(),
            _ => {
                return Err(Error::validation(
                    "--filter: expected a JSON object ({\"field\": \"value\"} or an advancedFilter group)",
                ));
            }
        }
    }
    Ok(request)
}

async fn run_export(
    service: &RecordService,
    args: ExportArgs,
    actor: &Actor,
    out: &Output,
    database_url: &str,
) -> Result<()> {
    let store = service.store();
    let module = args.module.clone().unwrap_or_default();
    let format = ExportFormat::parse(args.format.as_deref().unwrap_or_default())?;
    let mut request = request_of(&args, format)?;
    request.member_id = service.access().member_id().map(str::to_string);
    if args.background {
        let job = export::create_job(store, &module, &request, Some(&actor.user_id)).await?;
        return out.print(&json!({ "success": true, "data": job }), || {
            format!(
                "queued export job {} ({}): run `recordport worker` to process it",
                job.export_job_id,
                job.status.as_str()
            )
        });
    }
    let prepared = export::prepare(store, &module, &request).await?;
    let delivery = prepared.delivery(store, args.job).await?;
    let output = match &args.output {
        Some(path) if path.as_os_str() == "-" => Destination::Stdout,
        Some(path) => Destination::File(path.clone()),
        None => Destination::File(PathBuf::from(export::file_name(
            &module,
            format,
            chrono::Utc::now(),
        ))),
    };
    let bar = progress_bar();
    let result = match delivery {
        Delivery::Direct => direct(store, prepared, &output, bar.as_ref())
            .await
            .map(Done::Direct),
        Delivery::Job => {
            let export_dir = match &args.export_dir {
                Some(dir) => dir.clone(),
                None => args
                    .data
                    .folder(database_url, crate::store::data_dir::EXPORTS)?,
            };
            let settings = ExportSettings::new(export_dir);
            as_job(
                store,
                &settings,
                &module,
                &request,
                actor,
                &output,
                bar.as_ref(),
            )
            .await
            .map(|job| Done::Job(Box::new(job)))
        }
    };
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    let done = match result {
        Ok(done) => done,
        // `recordport export -o - | head` stops reading early: nothing more to say.
        Err(Error::Io { source, .. })
            if output == Destination::Stdout && source.kind() == std::io::ErrorKind::BrokenPipe =>
        {
            return Ok(());
        }
        Err(e) => return Err(e),
    };
    let shown = match &output {
        Destination::Stdout => "stdout".to_string(),
        Destination::File(path) => path.display().to_string(),
    };
    match done {
        // The data went to stdout: a summary there would corrupt it.
        _ if output == Destination::Stdout => Ok(()),
        Done::Direct(summary) => out.print(
            &json!({
                "format": summary.format,
                "recordCount": summary.record_count,
                "fileSizeBytes": summary.file_size_bytes,
                "contentType": summary.content_type,
                "fileName": summary.file_name,
                "path": shown,
            }),
            || {
                format!(
                    "exported {} records to {shown} ({} bytes)",
                    summary.record_count, summary.file_size_bytes
                )
            },
        ),
        Done::Job(job) => out.print(&job, || {
            format!(
                "exported {} records to {shown} ({} bytes); job {} keeps a copy until {}",
                job.processed_records,
                job.file_size_bytes.unwrap_or(0),
                job.export_job_id,
                job.expires_date_time.as_deref().unwrap_or("-"),
            )
        }),
    }
}

enum Done {
    Direct(ExportSummary),
    Job(Box<ExportJob>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Destination {
    Stdout,
    File(PathBuf),
}

fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |source| Error::Io {
        path: path.display().to_string(),
        source,
    }
}

/// Whether `path` exists and is not a regular file (a device, a pipe, a directory), following
/// symbolic links.
fn is_special(path: &Path) -> bool {
    std::fs::metadata(path).is_ok_and(|m| !m.is_file())
}

fn open_in_place(path: &Path) -> Result<std::fs::File> {
    std::fs::OpenOptions::new()
        .write(true)
        .truncate(true)
        .open(path)
        .map_err(io_error(path))
}

/// The file next to `path` that an export writes before it is complete.
fn partial_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".part");
    path.with_file_name(name)
}

async fn direct(
    store: &crate::store::Store,
    prepared: export::Prepared,
    output: &Destination,
    bar: Option<&indicatif::ProgressBar>,
) -> Result<ExportSummary> {
    let (writer, target, partial): (Box<dyn Write + Send>, String, Option<PathBuf>) = match output {
        Destination::Stdout => (
            Box::new(std::io::BufWriter::with_capacity(
                256 * 1024,
                std::io::stdout(),
            )),
            "stdout".to_string(),
            None,
        ),
        // A device or pipe (`-o /dev/null`, a FIFO) is written in place: renaming over it would
        // replace it with a file.
        Destination::File(path) if is_special(path) => {
            let file = open_in_place(path)?;
            (
                Box::new(std::io::BufWriter::with_capacity(256 * 1024, file)),
                path.display().to_string(),
                None,
            )
        }
        Destination::File(path) => {
            let partial = partial_path(path);
            let file = std::fs::File::create(&partial).map_err(io_error(&partial))?;
            (
                Box::new(std::io::BufWriter::with_capacity(256 * 1024, file)),
                path.display().to_string(),
                Some(partial),
            )
        }
    };
    let outcome = async {
        let mut export = prepared
            .start(store, writer, &target, DEFAULT_PAGE_SIZE)
            .await?;
        if let Some(bar) = bar {
            bar.set_length(export.total());
        }
        while export.step().await? {
            if let Some(bar) = bar {
                bar.set_position(export.processed());
            }
        }
        export.finish().await
    }
    .await;
    match (outcome, partial, output) {
        (Ok(summary), Some(partial), Destination::File(path)) => {
            std::fs::rename(&partial, path).map_err(io_error(path))?;
            Ok(summary)
        }
        (Err(e), Some(partial), _) => {
            // The export's own error is the one to report; a leftover `.part` file is harmless.
            let _ = std::fs::remove_file(&partial);
            Err(e)
        }
        (outcome, _, _) => outcome,
    }
}

async fn as_job(
    store: &crate::store::Store,
    settings: &ExportSettings,
    module: &str,
    request: &ExportRequest,
    actor: &Actor,
    output: &Destination,
    bar: Option<&indicatif::ProgressBar>,
) -> Result<ExportJob> {
    let job = export::create_job(store, module, request, Some(&actor.user_id)).await?;
    let job = export::run_job(store, settings, &job.export_job_id, |done, total| {
        if let Some(bar) = bar {
            bar.set_length(total);
            bar.set_position(done);
        }
    })
    .await?;
    let Some(kept) = job.file_path.as_deref().map(PathBuf::from) else {
        return Err(Error::Conflict {
            message: format!(
                "export job {} ended {} without a file",
                job.export_job_id,
                job.status.as_str()
            ),
            details: json!({ "exportJobId": job.export_job_id, "status": job.status.as_str() }),
        });
    };
    match output {
        Destination::Stdout => {
            let mut file = std::fs::File::open(&kept).map_err(io_error(&kept))?;
            let mut stdout = std::io::stdout().lock();
            std::io::copy(&mut file, &mut stdout).map_err(|source| Error::Io {
                path: "stdout".into(),
                source,
            })?;
            stdout.flush().map_err(|source| Error::Io {
                path: "stdout".into(),
                source,
            })?;
        }
        Destination::File(path) if is_special(path) => {
            let mut file = std::fs::File::open(&kept).map_err(io_error(&kept))?;
            let mut out = open_in_place(path)?;
            std::io::copy(&mut file, &mut out).map_err(io_error(path))?;
        }
        Destination::File(path) => {
            // A hard link costs no space and outlives the kept file's expiry; across file
            // systems it is a copy.
            match std::fs::remove_file(path) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(io_error(path)(e)),
            }
            if std::fs::hard_link(&kept, path).is_err() {
                std::fs::copy(&kept, path).map_err(io_error(path))?;
            }
        }
    }
    Ok(job)
}

/// A progress bar on stderr, only when a person is watching.
fn progress_bar() -> Option<indicatif::ProgressBar> {
    if !std::io::stderr().is_terminal() {
        return None;
    }
    let bar = indicatif::ProgressBar::new(0);
    if let Ok(style) = indicatif::ProgressStyle::with_template(
        "{spinner} [{elapsed_precise}] {wide_bar} {pos}/{len} records ({per_sec}, {eta} left)",
    ) {
        bar.set_style(style);
    }
    Some(bar)
}

fn jobs_table(jobs: &[ExportJob]) -> String {
    rows_table(
        &[
            "id",
            "module",
            "format",
            "status",
            "progress",
            "records",
            "file",
            "bytes",
            "requested",
            "expires",
        ],
        jobs,
        |job| {
            vec![
                job.export_job_id.clone(),
                job.module_slug.clone(),
                job.format.as_str().to_string(),
                job.status.as_str().to_string(),
                format!("{}%", job.progress),
                job.processed_records.to_string(),
                job.file_name.clone(),
                job.file_size_bytes
                    .map(|b| b.to_string())
                    .unwrap_or_default(),
                job.requested_date_time.clone(),
                job.expires_date_time.clone().unwrap_or_default(),
            ]
        },
    )
}

fn job_text(job: &ExportJob) -> String {
    let mut t = table(&["", ""]);
    let mut row = |k: &str, v: String| {
        t.add_row(vec![k.to_string(), v]);
    };
    row("id", job.export_job_id.clone());
    row("module", job.module_slug.clone());
    row("format", job.format.as_str().to_string());
    row("status", job.status.as_str().to_string());
    row(
        "progress",
        format!(
            "{}% ({} of {} records)",
            job.progress,
            job.processed_records,
            job.total_records
                .map(|n| n.to_string())
                .unwrap_or_else(|| "?".into())
        ),
    );
    row("file", job.file_name.clone());
    if let Some(path) = &job.file_path {
        row("kept at", path.clone());
    }
    if let Some(bytes) = job.file_size_bytes {
        row("bytes", bytes.to_string());
    }
    row("requested", job.requested_date_time.clone());
    if let Some(at) = &job.completed_date_time {
        row("completed", at.clone());
    }
    if let Some(at) = &job.expires_date_time {
        row("expires", at.clone());
    }
    if let Some(error) = &job.error {
        row("error", error.clone());
    }
    t.to_string()
}
