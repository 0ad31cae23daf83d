//! The command-line shell: clap commands mapped onto library calls, output as readable tables or
//! (with `--json`) the spec's JSON shapes. No business logic lives here.
//!
//! This file holds the top-level [`Cli`] with its global options, the dispatch to one file per
//! command (`modules`, `records`, `query`, `import`, `export`, `serve`, `worker`, `apikey`, `webhook`, `member`, `bench`), the
//! exit codes, and the output helpers those files share.

mod apikey;
mod bench;
mod export;
mod import;
mod member;
mod modules;
mod progress;
mod query;
mod records;
mod scope;
mod serve;
mod webhook;
mod worker;

use std::io::Write;

use clap::{Args, Parser, Subcommand};
use comfy_table::{ContentArrangement, Table, presets::UTF8_FULL_CONDENSED};
use serde::Serialize;

use crate::error::{Error, Result};
use crate::records::{Access, Actor, RecordService};
use crate::store::{DEFAULT_DATABASE_URL, Store};

pub use progress::PROGRESS_TARGET;

#[derive(Debug, Parser)]
#[command(
    name = "recordport",
    version,
    about = "A records store with a streaming import/export engine",
    after_help = examples(&[
        "module apply sample-data/modules/*.json",
        "import run contacts.csv --module contacts",
        "--db postgres://localhost/crm export --module contacts --format csv -o contacts.csv",
        "serve --bind 0.0.0.0:8080",
    ])
)]
pub struct Cli {
    /// Database URL: postgres://…, sqlite://PATH or a file path (SQLite).
    #[arg(long, global = true, help_heading = scope::GLOBAL_OPTIONS, env = "RECORDPORT_DATABASE_URL", default_value = DEFAULT_DATABASE_URL)]
    pub db: String,
    /// Print the spec's JSON instead of tables.
    #[arg(long, global = true, help_heading = scope::GLOBAL_OPTIONS)]
    pub json: bool,
    /// SQLite's page cache per connection, in MiB (more: fewer reads from the OS during large
    /// imports, more memory).
    #[arg(long, global = true, help_heading = scope::GLOBAL_OPTIONS, env = "RECORDPORT_CACHE_MIB", value_name = "MIB",
          default_value_t = crate::store::StoreOptions::DEFAULT_SQLITE_CACHE_MIB)]
    pub cache_mib: u32,
    /// User id recorded as the author of changes.
    #[arg(
        long,
        global = true,
        help_heading = scope::GLOBAL_OPTIONS,
        env = "RECORDPORT_USER_ID",
        default_value = "usr_local"
    )]
    pub user_id: String,
    /// User name recorded as the author of changes.
    #[arg(
        long,
        global = true,
        help_heading = scope::GLOBAL_OPTIONS,
        env = "RECORDPORT_USER_NAME",
        default_value = "Local user"
    )]
    pub user_name: String,
    /// Act as this member: records you create are theirs, and you see and change only what
    /// their privacy levels allow (as their API key would). Without: every record.
    #[arg(
        long,
        global = true,
        help_heading = scope::GLOBAL_OPTIONS,
        env = "RECORDPORT_MEMBER",
        value_name = "MEMBER_ID"
    )]
    pub member: Option<String>,
    /// More log output (-v info, -vv debug); RUST_LOG overrides.
    #[arg(short, long, global = true, help_heading = scope::GLOBAL_OPTIONS, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Log as JSON lines (one object per event, for log collectors) instead of text.
    #[arg(long, global = true, help_heading = scope::GLOBAL_OPTIONS, env = "RECORDPORT_LOG_JSON")]
    pub log_json: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Define modules (schemas) from JSON files.
    #[command(
        after_help = examples(&["module apply sample-data/modules/*.json", "module show contacts"])
    )]
    Module(modules::ModuleArgs),
    /// Create, read, update, delete, list and restore records.
    #[command(subcommand)]
    #[command(
        after_help = examples(&["records list --module contacts --filter status=active", "records get --module contacts rec_0190c3b1-…"])
    )]
    Records(records::RecordsCommand),
    /// Run a CQL query (spec 004): FROM module WHERE … ORDER BY … LIMIT … INCLUDE ….
    #[command(
        after_help = examples(&["query \"FROM contacts ORDER BY deal_value DESC LIMIT 10\"", "query \"FROM contacts WHERE deal_value > :min\" --param min=500"])
    )]
    Query(query::QueryArgs),
    /// Import files: parse, suggest a mapping, validate, run, list jobs, roll back.
    #[command(subcommand)]
    #[command(
        after_help = examples(&["import parse contacts.csv", "import run contacts.csv --module contacts --strategy update --match email"])
    )]
    Import(import::ImportCommand),
    /// Export records to CSV, PDF or Parquet; list and show export jobs.
    #[command(
        after_help = examples(&["export --module contacts --format csv -o contacts.csv", "export --module contacts --format pdf --columns displayName,email,phone --title Contacts", "export jobs"])
    )]
    Export(export::ExportCommand),
    /// Benchmark helpers: generate large realistic files, time every step beside peer tools.
    #[command(
        after_help = examples(&["bench gen --rows 1000000 -o contacts-1m.csv", "bench run --rows 100000 --skip-alternatives"])
    )]
    Bench(bench::BenchArgs),
    /// Serve the HTTP API (specs 000 and 002) until SIGINT or SIGTERM.
    #[command(
        after_help = examples(&["serve", "--db postgres://localhost/crm serve --bind 0.0.0.0:8080 --no-worker"])
    )]
    Serve(serve::ServeArgs),
    /// Create, list and revoke the HTTP API's keys.
    #[command(
        after_help = examples(&["apikey create --name crm-sync --scopes records:read,records:write", "apikey list"])
    )]
    Apikey(apikey::ApikeyArgs),
    /// Run queued import and export jobs until SIGINT or SIGTERM.
    #[command(
        after_help = examples(&["--db postgres://localhost/crm worker --concurrency 4", "worker --exit-when-idle"])
    )]
    Worker(worker::WorkerArgs),
    /// Members' teams (for the team privacy level) and the records each member owns.
    #[command(subcommand)]
    #[command(
        after_help = examples(&["member join alice --team sales", "member teams alice", "--member bob member counts alice"])
    )]
    Member(member::MemberCommand),
    /// Webhooks: create, list, delete, deliveries, redeliver.
    #[command(subcommand)]
    #[command(
        after_help = examples(&["webhook create --url https://hooks.example.com/crm --events record.created,record.updated", "webhook list"])
    )]
    Webhook(webhook::WebhookCommand),
}

/// The data directory of the commands that keep working files (uploads, export files, queued
/// import copies).
#[derive(Debug, Args)]
pub struct DataDirArgs {
    /// Directory of the working files: uploads/, exports/ and jobs/ inside it [default: beside
    /// the SQLite file, NAME-data/ for NAME.db; for PostgreSQL
    /// ~/.local/share/recordport/DATABASE]
    #[arg(long, env = "RECORDPORT_DATA_DIR", value_name = "DIR")]
    pub data_dir: Option<std::path::PathBuf>,
}

impl DataDirArgs {
    /// `folder` inside the data directory: the one given, else the database's default.
    pub fn folder(&self, database_url: &str, folder: &str) -> Result<std::path::PathBuf> {
        let dir = match &self.data_dir {
            Some(dir) => dir.clone(),
            None => crate::store::data_dir::default_data_dir(database_url)?,
        };
        Ok(dir.join(folder))
    }
}

#[derive(Debug, Args)]
pub struct ModuleArg {
    /// Module slug, e.g. contacts.
    #[arg(short, long)]
    pub module: String,
}

/// A positive number of seconds given as a flag.
fn seconds_arg(flag: &str, seconds: f64) -> Result<std::time::Duration> {
    match std::time::Duration::try_from_secs_f64(seconds) {
        Ok(duration) if !duration.is_zero() => Ok(duration),
        _ => Err(Error::validation(format!(
            "{flag} must be a positive number of seconds, not {seconds}"
        ))),
    }
}

/// The exit status for an error: scripts can tell bad input, absence and conflicts apart.
pub fn exit_code(error: &Error) -> i32 {
    match error.http_status() {
        // A file over the set cap, or with more bad rows than the error budget, is bad input too
        // (HTTP's 413 and 422 only name the reason).
        400 | 413 | 422 => 2,
        404 => 3,
        409 => 4,
        _ => 1,
    }
}

/// Runs a parsed command, printing its result; returns the process exit code.
pub async fn run(cli: Cli) -> i32 {
    let json = cli.json;
    match execute(cli).await {
        Ok(()) => 0,
        Err(error) => {
            if json {
                // stdout may be the pipe that just broke; the exit code still tells.
                let _ = writeln!(std::io::stdout(), "{}", error.to_json());
            } else {
                eprintln!("error: {error}");
                if let Error::Validation { fields, .. } = &error
                    && fields.len() > 1
                {
                    for f in fields {
                        eprintln!("  {}: {}", f.field, f.message);
                    }
                }
            }
            exit_code(&error)
        }
    }
}

async fn execute(cli: Cli) -> Result<()> {
    // Generating files needs no database.
    if let Command::Bench(args) = cli.command {
        return bench::run(args.command);
    }
    let store = Store::open_with(
        &cli.db,
        &crate::store::StoreOptions {
            sqlite_cache_mib: cli.cache_mib,
        },
    )
    .await?;
    let access = match &cli.member {
        Some(member) => Access::Member(member.clone()),
        None => Access::Everything,
    };
    let service = RecordService::new(store.clone()).acting_for(access);
    let actor = Actor::new(cli.user_id.clone(), cli.user_name.clone());
    let out = Output {
        json: cli.json,
        log_json: cli.log_json,
    };
    let result = match cli.command {
        Command::Module(args) => modules::run(&service, args.command, &out).await,
        Command::Records(cmd) => records::run(&service, cmd, &actor, &out).await,
        Command::Query(args) => query::run(&service, args, &out).await,
        Command::Import(cmd) => import::run(&service, cmd, &actor, &out).await,
        Command::Export(cmd) => export::run(&service, cmd, &actor, &out, &cli.db).await,
        Command::Serve(args) => serve::run(&service, args, &cli.db).await,
        Command::Apikey(args) => apikey::run(&service, args.command, &out).await,
        Command::Worker(args) => worker::run(&service, args, &cli.db).await,
        Command::Member(cmd) => member::run(&service, cmd, &out).await,
        Command::Webhook(cmd) => webhook::run(&service, cmd, &out).await,
        Command::Bench(_) => unreachable!("handled before the database is opened"),
    };
    store.close().await;
    result
}

/// Prints JSON in `--json` mode, the rendered text otherwise.
struct Output {
    json: bool,
    /// Logs are JSON lines: long runs add progress events to them.
    log_json: bool,
}

impl Output {
    fn print<T: Serialize>(&self, value: &T, text: impl FnOnce() -> String) -> Result<()> {
        let mut stdout = std::io::stdout().lock();
        let rendered = if self.json {
            serde_json::to_string_pretty(value).map_err(|e| Error::json("output", e))?
        } else {
            text()
        };
        writeln!(stdout, "{rendered}").map_err(|source| Error::Io {
            path: "stdout".into(),
            source,
        })
    }
}

fn table(header: &[&str]) -> Table {
    let mut t = Table::new();
    t.load_style(UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_header(header.to_vec());
    t
}

/// A command's `Examples:` section of `--help`: one command line each, after the program's
/// name.
fn examples(command_lines: &[&str]) -> String {
    command_lines
        .iter()
        .fold(String::from("Examples:"), |text, line| {
            text + "\n  recordport " + line
        })
}

/// A table with a row for each item, as `row` renders it, under `header`.
fn rows_table<T>(
    header: &[&str],
    items: impl IntoIterator<Item = T>,
    row: impl FnMut(T) -> Vec<String>,
) -> String {
    let mut t = table(header);
    for cells in items.into_iter().map(row) {
        t.add_row(cells);
    }
    t.to_string()
}

fn read_file(path: &std::path::Path) -> Result<String> {
    std::fs::read_to_string(path).map_err(|source| Error::Io {
        path: path.display().to_string(),
        source,
    })
}

/// `@FILE` reads the file; anything else is the text itself.
pub(crate) fn read_arg_text(arg: &str) -> Result<String> {
    match arg.strip_prefix('@') {
        Some(path) => read_file(std::path::Path::new(path)),
        None => Ok(arg.to_string()),
    }
}
