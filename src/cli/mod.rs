//! The command-line shell: clap commands mapped onto library calls, output as readable tables or
//! (with `--json`) the spec's JSON shapes. No business logic lives here.

mod apikey;
mod bench;
mod export;
mod import;
mod serve;
mod worker;

use std::io::Write;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use comfy_table::{ContentArrangement, Table, presets::UTF8_FULL_CONDENSED};
use serde::Serialize;
use serde_json::{Value, json};

use crate::error::{Error, Result};
use crate::records::query::parse_direction;
use crate::records::{
    Actor, BulkUpdate, ListQuery, ListResult, Record, RecordInput, RecordService,
};
use crate::schema::value::display_text;
use crate::schema::{Module, ModuleDef};
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
    Module(ModuleCommand),
    /// Create, read, update, delete, list and restore records.
    #[command(subcommand)]
    Records(RecordsCommand),
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
}

#[derive(Debug, Subcommand)]
pub enum ModuleCommand {
    /// Create or update modules from definition files (idempotent).
    Apply {
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// List the modules.
    List,
    /// Show one module's fields.
    Show { slug: String },
}

#[derive(Debug, Args)]
pub struct ModuleArg {
    /// Module slug, e.g. contacts.
    #[arg(short, long)]
    pub module: String,
}

#[derive(Debug, Args)]
pub struct DataArg {
    /// The request body as JSON, or @FILE to read it from a file.
    #[arg(short, long)]
    pub data: String,
}

#[derive(Debug, Subcommand)]
pub enum RecordsCommand {
    /// List records with filters, search, sort and pages.
    List(Box<ListArgs>),
    /// Show one record (or one of its past versions).
    Get {
        #[command(flatten)]
        module: ModuleArg,
        id: String,
        /// Show the record as it was at this version.
        #[arg(long)]
        version: Option<i64>,
    },
    /// Create a record from a spec 000 request body.
    Create {
        #[command(flatten)]
        module: ModuleArg,
        #[command(flatten)]
        data: DataArg,
    },
    /// Update a record (PATCH); a "version" in the body must be the current one.
    Update {
        #[command(flatten)]
        module: ModuleArg,
        id: String,
        #[command(flatten)]
        data: DataArg,
    },
    /// Create or update the record with this external id.
    Upsert {
        #[command(flatten)]
        module: ModuleArg,
        #[arg(long)]
        external_id: String,
        #[command(flatten)]
        data: DataArg,
    },
    /// Move a record to the trash.
    Delete {
        #[command(flatten)]
        module: ModuleArg,
        id: String,
    },
    /// Bring a record back from the trash.
    Restore {
        #[command(flatten)]
        module: ModuleArg,
        id: String,
    },
    /// A record's version history.
    History {
        #[command(flatten)]
        module: ModuleArg,
        id: String,
    },
    /// List the trash.
    Trash {
        #[command(flatten)]
        module: ModuleArg,
        #[arg(long, default_value_t = 1)]
        page: u32,
        #[arg(long, default_value_t = 25)]
        page_size: u32,
    },
    /// Delete a trashed record for good.
    Purge {
        #[command(flatten)]
        module: ModuleArg,
        id: String,
    },
    /// Delete every trashed record of the module for good.
    EmptyTrash {
        #[command(flatten)]
        module: ModuleArg,
    },
    /// Create many records in one transaction: a JSON array of bodies or {"records": [...]}.
    BulkCreate {
        #[command(flatten)]
        module: ModuleArg,
        #[command(flatten)]
        data: DataArg,
    },
    /// Add/remove labels and types on up to 100 records (spec 000 bulk update body).
    BulkUpdate {
        #[command(flatten)]
        module: ModuleArg,
        #[command(flatten)]
        data: DataArg,
    },
    /// Move up to 100 records to the trash.
    BulkDelete {
        #[command(flatten)]
        module: ModuleArg,
        #[arg(required = true)]
        ids: Vec<String>,
    },
    /// Restore up to 100 trashed records.
    BulkRestore {
        #[command(flatten)]
        module: ModuleArg,
        #[arg(required = true)]
        ids: Vec<String>,
    },
}

#[derive(Debug, Args)]
pub struct ListArgs {
    #[command(flatten)]
    pub module: ModuleArg,
    /// field=value (value may be a,b for OR); repeat for AND.
    #[arg(long = "filter")]
    pub filters: Vec<String>,
    /// The advancedFilter JSON of spec 000.
    #[arg(long)]
    pub advanced_filter: Option<String>,
    #[arg(long)]
    pub search: Option<String>,
    /// field:asc or field:desc (default: newest first).
    #[arg(long)]
    pub sort: Option<String>,
    #[arg(long)]
    pub page: Option<u32>,
    #[arg(long)]
    pub page_size: Option<u32>,
    /// Field slugs to show, comma-separated.
    #[arg(long, value_delimiter = ',')]
    pub fields: Option<Vec<String>>,
    /// Labels (any of), comma-separated.
    #[arg(long, value_delimiter = ',')]
    pub label_ids: Vec<String>,
    /// Types (any of), comma-separated.
    #[arg(long, value_delimiter = ',')]
    pub type_ids: Vec<String>,
    /// Cursor pagination: the nextCursor of the previous page.
    #[arg(long)]
    pub cursor: Option<String>,
    /// Cursor pagination: records per page.
    #[arg(long)]
    pub limit: Option<u32>,
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
    let store = Store::open(&cli.db).await?;
    let service = RecordService::new(store.clone());
    let actor = Actor::new(cli.user_id.clone(), cli.user_name.clone());
    let out = Output { json: cli.json };
    let result = match cli.command {
        Command::Module(cmd) => module_command(&service, cmd, &out).await,
        Command::Records(cmd) => records_command(&service, cmd, &actor, &out).await,
        Command::Import(cmd) => import::run(&service, cmd, &actor, &out).await,
        Command::Export(cmd) => export::run(&service, cmd, &actor, &out).await,
        Command::Serve(args) => serve::run(&service, args).await,
        Command::Apikey(cmd) => apikey::run(&service, cmd, &out).await,
        Command::Worker(args) => worker::run(&service, args).await,
        Command::Bench(_) => unreachable!("handled before the database is opened"),
    };
    store.close().await;
    result
}

async fn module_command(service: &RecordService, cmd: ModuleCommand, out: &Output) -> Result<()> {
    let registry = service.modules();
    match cmd {
        ModuleCommand::Apply { files } => {
            // Files are applied in dependency order, so a module may reference one defined in a
            // later file of the same command.
            let mut defs = Vec::new();
            for path in &files {
                let text = read_file(path)?;
                defs.push((
                    path.display().to_string(),
                    ModuleDef::from_json(&text, &path.display().to_string())?,
                ));
            }
            // Every reference must resolve before anything is applied, so a bad file leaves the
            // store as it was.
            for (path, def) in &defs {
                for target in def.fields.iter().filter_map(|f| f.target.as_ref()) {
                    let in_batch = defs.iter().any(|(_, d)| &d.slug == target);
                    if !in_batch && registry.find(target).await?.is_none() {
                        return Err(Error::validation(format!(
                            "{path}: reference target module '{target}' does not exist (apply it first or in the same command)"
                        )));
                    }
                }
            }
            let mut defs: Vec<ModuleDef> = defs.into_iter().map(|(_, d)| d).collect();
            let mut results = Vec::new();
            while !defs.is_empty() {
                let ready = defs.iter().position(|d| {
                    d.fields
                        .iter()
                        .filter_map(|f| f.target.as_ref())
                        .all(|t| t == &d.slug || !defs.iter().any(|other| &other.slug == t))
                });
                let def = defs.remove(ready.unwrap_or(0));
                let (module, outcome) = registry.apply(&def).await?;
                results.push(json!({ "slug": module.slug(), "id": module.id, "outcome": outcome }));
            }
            out.print(&json!({ "modules": results }), || {
                results
                    .iter()
                    .map(|r| {
                        format!(
                            "{} {}",
                            r["outcome"].as_str().unwrap_or_default(),
                            r["slug"].as_str().unwrap_or_default()
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            })
        }
        ModuleCommand::List => {
            let modules = registry.list().await?;
            out.print(&json!({ "modules": modules }), || {
                let mut t = table(&["slug", "name", "fields", "id"]);
                for m in &modules {
                    t.add_row(vec![
                        m.slug().to_string(),
                        m.def.name.clone(),
                        m.def.fields.len().to_string(),
                        m.id.clone(),
                    ]);
                }
                t.to_string()
            })
        }
        ModuleCommand::Show { slug } => {
            let module = registry.get(&slug).await?;
            out.print(&json!({ "module": module }), || module_table(&module))
        }
    }
}

fn module_table(module: &Module) -> String {
    let mut t = table(&["field", "label", "type", "flags", "details"]);
    for f in &module.def.fields {
        let mut flags = Vec::new();
        if f.required {
            flags.push("required");
        }
        if f.unique {
            flags.push("unique");
        }
        let details = match (&f.target, f.options.is_empty()) {
            (Some(target), _) => format!("→ {target}"),
            (None, false) => f.options.join(", "),
            _ if !f.value_types.is_empty() => f.value_types.join(", "),
            _ => String::new(),
        };
        t.add_row(vec![
            f.slug.clone(),
            f.label.clone(),
            f.field_type.as_str().to_string(),
            flags.join(", "),
            details,
        ]);
    }
    format!(
        "{} ({}), {}\ndisplay name: {}\n{t}",
        module.def.name,
        module.slug(),
        module.id,
        module.def.display_name.join(" | ")
    )
}

async fn records_command(
    service: &RecordService,
    cmd: RecordsCommand,
    actor: &Actor,
    out: &Output,
) -> Result<()> {
    match cmd {
        RecordsCommand::List(args) => {
            let module = args.module.module.clone();
            let query = list_query(*args)?;
            let result = service.list(&module, &query).await?;
            let m = service.modules().get(&module).await?;
            out.print(&result, || list_table(&m, &result))
        }
        RecordsCommand::Get {
            module,
            id,
            version,
        } => {
            let record = match version {
                Some(v) => service.get_version(&module.module, &id, v).await?,
                None => service.get(&module.module, &id).await?,
            };
            out.print(&json!({ "record": record }), || record_table(&record))
        }
        RecordsCommand::Create { module, data } => {
            let input = RecordInput::from_json(read_data(&data.data)?, "--data")?;
            let record = service.create(&module.module, input, actor).await?;
            out.print(&json!({ "record": record }), || {
                format!("created {}\n{}", record.id, record_table(&record))
            })
        }
        RecordsCommand::Update { module, id, data } => {
            let input = RecordInput::from_json(read_data(&data.data)?, "--data")?;
            let record = service.update(&module.module, &id, input, actor).await?;
            out.print(&json!({ "record": record }), || {
                format!(
                    "updated {} (version {})\n{}",
                    record.id,
                    record.version,
                    record_table(&record)
                )
            })
        }
        RecordsCommand::Upsert {
            module,
            external_id,
            data,
        } => {
            let input = RecordInput::from_json(read_data(&data.data)?, "--data")?;
            let (record, created) = service
                .upsert_by_external_id(&module.module, &external_id, input, actor)
                .await?;
            out.print(&json!({ "record": record, "created": created }), || {
                format!(
                    "{} {}\n{}",
                    if created { "created" } else { "updated" },
                    record.id,
                    record_table(&record)
                )
            })
        }
        RecordsCommand::Delete { module, id } => {
            service.delete(&module.module, &id, actor).await?;
            out.print(&json!({ "success": true }), || {
                format!("moved {id} to the trash")
            })
        }
        RecordsCommand::Restore { module, id } => {
            let record = service.restore(&module.module, &id, actor).await?;
            out.print(&json!({ "record": record }), || {
                format!("restored {}", record.id)
            })
        }
        RecordsCommand::History { module, id } => {
            let versions = service.history(&module.module, &id).await?;
            out.print(&json!({ "versions": versions }), || {
                let mut t = table(&["version", "action", "when", "by", "changes"]);
                for v in &versions {
                    let changes = v
                        .changes
                        .iter()
                        .map(|(k, c)| format!("{k}: {} → {}", short(&c["old"]), short(&c["new"])))
                        .collect::<Vec<_>>()
                        .join("\n");
                    t.add_row(vec![
                        v.version.to_string(),
                        v.action.clone(),
                        v.changed_date_time.clone(),
                        v.user_display_name.clone().unwrap_or_default(),
                        changes,
                    ]);
                }
                t.to_string()
            })
        }
        RecordsCommand::Trash {
            module,
            page,
            page_size,
        } => {
            let result = service.list_trash(&module.module, page, page_size).await?;
            let m = service.modules().get(&module.module).await?;
            out.print(&result, || list_table(&m, &result))
        }
        RecordsCommand::Purge { module, id } => {
            service.purge(&module.module, &id).await?;
            out.print(&json!({ "success": true }), || format!("purged {id}"))
        }
        RecordsCommand::EmptyTrash { module } => {
            let purged = service.empty_trash(&module.module).await?;
            out.print(&json!({ "success": true, "purged": purged }), || {
                format!("purged {purged} records")
            })
        }
        RecordsCommand::BulkCreate { module, data } => {
            let body = read_data(&data.data)?;
            let items = match body {
                Value::Array(items) => items,
                Value::Object(mut obj) => match obj.remove("records") {
                    Some(Value::Array(items)) => items,
                    _ => {
                        return Err(Error::validation(
                            "--data: expected an array of records or {\"records\": [...]}",
                        ));
                    }
                },
                _ => {
                    return Err(Error::validation(
                        "--data: expected an array of records or {\"records\": [...]}",
                    ));
                }
            };
            let inputs = items
                .into_iter()
                .enumerate()
                .map(|(i, v)| {
                    // Spec 003 nests values under "data"; spec 000 under "fields".
                    let v = match v {
                        Value::Object(mut o)
                            if o.contains_key("data") && !o.contains_key("fields") =>
                        {
                            let data = o.remove("data").unwrap_or_default();
                            o.insert("fields".into(), data);
                            Value::Object(o)
                        }
                        other => other,
                    };
                    RecordInput::from_json(v, &format!("--data records[{i}]"))
                })
                .collect::<Result<Vec<_>>>()?;
            let records = service.bulk_create(&module.module, inputs, actor).await?;
            out.print(
                &json!({ "records": records, "created": records.len() }),
                || format!("created {} records", records.len()),
            )
        }
        RecordsCommand::BulkUpdate { module, data } => {
            let request: BulkUpdate = serde_json::from_value(read_data(&data.data)?)
                .map_err(|e| Error::json("--data", e))?;
            let records = service.bulk_update(&module.module, &request, actor).await?;
            out.print(&json!({ "records": records }), || {
                let mut t = table(&["id", "displayName", "labelIds", "typeIds"]);
                for r in &records {
                    t.add_row(vec![
                        r.id.clone(),
                        r.display_name.clone(),
                        r.label_ids.join(", "),
                        r.type_ids.join(", "),
                    ]);
                }
                t.to_string()
            })
        }
        RecordsCommand::BulkDelete { module, ids } => {
            let outcome = service.bulk_delete(&module.module, &ids, actor).await?;
            out.print(&outcome, || {
                format!("deleted {}, skipped {}", outcome.deleted, outcome.skipped)
            })
        }
        RecordsCommand::BulkRestore { module, ids } => {
            let outcome = service.bulk_restore(&module.module, &ids, actor).await?;
            out.print(&outcome, || {
                format!("restored {}, skipped {}", outcome.restored, outcome.skipped)
            })
        }
    }
}

fn list_query(args: ListArgs) -> Result<ListQuery> {
    let mut filters = Vec::new();
    for f in &args.filters {
        let (field, value) = f
            .split_once('=')
            .ok_or_else(|| Error::validation(format!("--filter '{f}': expected field=value")))?;
        filters.push((field.trim().to_string(), value.to_string()));
    }
    let (sort_field, sort_direction) = match &args.sort {
        Some(sort) => match sort.rsplit_once(':') {
            Some((field, dir)) => (Some(field.to_string()), Some(parse_direction(dir)?)),
            None => (Some(sort.clone()), None),
        },
        None => (None, None),
    };
    let advanced_filter = args
        .advanced_filter
        .as_deref()
        .map(|text| {
            serde_json::from_str(&read_arg_text(text)?)
                .map_err(|e| Error::json("--advanced-filter", e))
        })
        .transpose()?;
    Ok(ListQuery {
        filters,
        advanced_filter,
        search: args.search,
        label_ids: args.label_ids,
        type_ids: args.type_ids,
        sort_field,
        sort_direction,
        page: args.page,
        page_size: args.page_size,
        fields: args.fields,
        cursor: args.cursor,
        limit: args.limit,
        include_count: false,
    })
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

fn short(v: &Value) -> String {
    let text = display_text(v);
    if text.is_empty() {
        "∅".to_string()
    } else if text.chars().count() > 40 {
        format!("{}…", text.chars().take(39).collect::<String>())
    } else {
        text
    }
}

fn list_table(module: &Module, result: &ListResult) -> String {
    // The first few fields that any shown record has, in module order.
    let shown: Vec<&str> = module
        .def
        .fields
        .iter()
        .map(|f| f.slug.as_str())
        .filter(|slug| result.records.iter().any(|r| r.fields.contains_key(*slug)))
        .take(5)
        .collect();
    let mut header = vec!["id", "displayName"];
    header.extend(shown.iter().copied());
    header.push("version");
    let mut t = table(&header);
    for r in &result.records {
        let mut row = vec![r.id.clone(), r.display_name.clone()];
        row.extend(
            shown
                .iter()
                .map(|s| r.fields.get(*s).map(short).unwrap_or_default()),
        );
        row.push(r.version.to_string());
        t.add_row(row);
    }
    let footer = match (
        &result.pagination,
        result.total,
        result.page,
        result.page_size,
    ) {
        (Some(p), ..) => match &p.next_cursor {
            Some(c) => format!("{} records; more with --cursor {c}", result.records.len()),
            None => format!("{} records; no more", result.records.len()),
        },
        (None, Some(total), Some(page), Some(size)) => {
            let pages = total.div_ceil(u64::from(size)).max(1);
            format!("page {page} of {pages} ({total} records)")
        }
        _ => String::new(),
    };
    format!("{t}\n{footer}")
}

fn record_table(record: &Record) -> String {
    let mut t = table(&["", ""]);
    let mut row = |k: &str, v: String| {
        t.add_row(vec![k.to_string(), v]);
    };
    row("id", record.id.clone());
    row("displayName", record.display_name.clone());
    for (k, v) in &record.fields {
        row(k, display_text(v));
    }
    if !record.label_ids.is_empty() {
        row("labelIds", record.label_ids.join(", "));
    }
    if !record.type_ids.is_empty() {
        row("typeIds", record.type_ids.join(", "));
    }
    row("privacyLevel", record.privacy_level.clone());
    if let Some(e) = &record.external_id {
        row("externalId", e.clone());
    }
    row("version", record.version.to_string());
    row(
        "created",
        format!(
            "{} by {}",
            record.created_date_time,
            record.created_by_display_name.clone().unwrap_or_default()
        ),
    );
    row(
        "updated",
        format!(
            "{} by {}",
            record.updated_date_time,
            record.updated_by_display_name.clone().unwrap_or_default()
        ),
    );
    if let Some(d) = &record.deleted_date_time {
        row("deleted", d.clone());
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

fn read_data(arg: &str) -> Result<Value> {
    serde_json::from_str(&read_arg_text(arg)?).map_err(|e| Error::json("--data", e))
}
