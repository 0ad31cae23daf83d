//! The command-line shell: clap commands mapped onto library calls, output as readable tables or
//! (with `--json`) the spec's JSON shapes. No business logic lives here.
//!
//! This file holds the top-level [`Cli`] with its global options, the dispatch to one file per
//! command (`modules`, `records`, `import`, `export`, `serve`, `worker`, `apikey`, `webhook`, `bench`), the
//! exit codes, and the output helpers those files share.

mod apikey;
mod bench;
mod export;
mod import;
mod modules;
mod records;
mod serve;
mod webhook;
mod worker;

use std::io::Write;

use clap::{Args, Parser, Subcommand};
use comfy_table::{ContentArrangement, Table, presets::UTF8_FULL_CONDENSED};
use serde::Serialize;

use crate::error::{Error, Result};
use crate::records::{Actor, RecordService};
use crate::store::{DEFAULT_DATABASE_URL, Store};

#[derive(Debug, Parser)]
#[command(
    name = "recordport",
    version,
    about = "A records store with a streaming import/export engine"
)]
pub struct Cli {
    /// Database URL: postgres://…, sqlite://PATH or a file path (SQLite).
    #[arg(long, global = true, env = "RECORDPORT_DATABASE_URL", default_value = DEFAULT_DATABASE_URL)]
    pub db: String,
    /// Print the spec's JSON instead of tables.
    #[arg(long, global = true)]
    pub json: bool,
    /// SQLite's page cache per connection, in MiB (more: fewer reads from the OS during large
    /// imports, more memory).
    #[arg(long, global = true, env = "RECORDPORT_CACHE_MIB", value_name = "MIB",
          default_value_t = crate::store::StoreOptions::DEFAULT_SQLITE_CACHE_MIB)]
    pub cache_mib: u32,
    /// User id recorded as the author of changes.
    #[arg(
        long,
        global = true,
        env = "RECORDPORT_USER_ID",
        default_value = "usr_local"
    )]
    pub user_id: String,
    /// User name recorded as the author of changes.
    #[arg(
        long,
        global = true,
        env = "RECORDPORT_USER_NAME",
        default_value = "Local user"
    )]
    pub user_name: String,
    /// More log output (-v info, -vv debug); RUST_LOG overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Log as JSON lines (one object per event, for log collectors) instead of text.
    #[arg(long, global = true, env = "RECORDPORT_LOG_JSON")]
    pub log_json: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Define modules (schemas) from JSON files.
    #[command(subcommand)]
    Module(modules::ModuleCommand),
    /// Create, read, update, delete, list and restore records.
    #[command(subcommand)]
    Records(records::RecordsCommand),
    /// Import files: parse, suggest a mapping, validate, run, list jobs, roll back.
    #[command(subcommand)]
    Import(import::ImportCommand),
    /// Export records to CSV, PDF or Parquet; list and show export jobs.
    Export(export::ExportCommand),
    /// Benchmark helpers: generate large realistic files.
    #[command(subcommand)]
    Bench(bench::BenchCommand),
    /// Serve the HTTP API (specs 000 and 002) until SIGINT or SIGTERM.
    Serve(serve::ServeArgs),
    /// Create, list and revoke the HTTP API's keys.
    #[command(subcommand)]
    Apikey(apikey::ApikeyCommand),
    /// Run queued import and export jobs until SIGINT or SIGTERM.
    Worker(worker::WorkerArgs),
    /// Webhooks: create, list, delete, deliveries, redeliver.
    #[command(subcommand)]
    Webhook(webhook::WebhookCommand),
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
        400 => 2,
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
    if let Command::Bench(cmd) = cli.command {
        return bench::run(cmd);
    }
    let store = Store::open_with(
        &cli.db,
        &crate::store::StoreOptions {
            sqlite_cache_mib: cli.cache_mib,
        },
    )
    .await?;
    let service = RecordService::new(store.clone());
    let actor = Actor::new(cli.user_id.clone(), cli.user_name.clone());
    let out = Output { json: cli.json };
    let result = match cli.command {
        Command::Module(cmd) => modules::run(&service, cmd, &out).await,
        Command::Records(cmd) => records::run(&service, cmd, &actor, &out).await,
        Command::Import(cmd) => import::run(&service, cmd, &actor, &out).await,
        Command::Export(cmd) => export::run(&service, cmd, &actor, &out).await,
        Command::Serve(args) => serve::run(&service, args).await,
        Command::Apikey(cmd) => apikey::run(&service, cmd, &out).await,
        Command::Worker(args) => worker::run(&service, args).await,
        Command::Webhook(cmd) => webhook::run(&service, cmd, &out).await,
        Command::Bench(_) => unreachable!("handled before the database is opened"),
    };
    store.close().await;
    result
}

/// Prints JSON in `--json` mode, the rendered text otherwise.
struct Output {
    json: bool,
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
