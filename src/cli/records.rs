//! `recordport records …`: the Records API of spec 000 (and the bulk, upsert and history calls of
//! specs 001/003/004) on the command line.
//!
//! In: the parsed subcommand, with request bodies as JSON or `@FILE` (`--data`). Out: the
//! service's answer printed as a table, or as the spec's JSON with `--json`; errors are returned
//! to the caller, which prints them and picks the exit code. Every command is one library call.

use clap::{Args, Subcommand};
use serde_json::{Value, json};

use super::{ModuleArg, Output, examples, read_arg_text, rows_table, table};
use crate::error::{Error, Result};
use crate::records::query::parse_direction;
use crate::records::{
    Actor, BulkCreate, BulkPatch, BulkUpdate, ChangelogQuery, GetOptions, ListQuery, ListResult,
    MatchUpsert, Record, RecordInput, RecordService,
};
use crate::schema::Module;
use crate::schema::value::display_text;

#[derive(Debug, Args)]
pub struct DataArg {
    /// The request body as JSON, or @FILE to read it from a file.
    #[arg(short, long)]
    pub data: String,
}

/// The record a command acts on: its module and its id.
#[derive(Debug, Args)]
pub struct RecordArg {
    #[command(flatten)]
    pub module: ModuleArg,
    /// The record's id (rec_…).
    pub id: String,
}

#[derive(Debug, Subcommand)]
pub enum RecordsCommand {
    /// List records with filters, search, sort and pages.
    #[command(
        after_help = examples(&["records list --module contacts --filter status=active --sort deal_value:desc", "records list --module contacts --search acme --fields email,company --page 2 --page-size 50"])
    )]
    List(Box<ListArgs>),
    /// Show one record (or one of its past versions).
    #[command(
        after_help = examples(&["records get --module contacts rec_0190c3b1-…", "records get --module contacts rec_0190c3b1-… --version 2"])
    )]
    Get {
        #[command(flatten)]
        record: RecordArg,
        /// Show the record as it was at this version.
        #[arg(long)]
        version: Option<i64>,
        /// Reference fields whose records are embedded in place of their ids, comma-separated.
        #[arg(long, value_delimiter = ',')]
        expand: Vec<String>,
        /// Also show the version history (spec 004's shape).
        #[arg(long)]
        include_history: bool,
        /// Also show the changelog (who changed what, when).
        #[arg(long)]
        include_changelog: bool,
    },
    /// Create a record from a spec 000 request body.
    #[command(
        after_help = examples(&["records create --module contacts --data '{\"fields\":{\"email\":\"ada@acme.com\"}}'", "records create --module contacts --data @contact.json"])
    )]
    Create {
        #[command(flatten)]
        module: ModuleArg,
        #[command(flatten)]
        data: DataArg,
    },
    /// Update a record (PATCH); a "version" in the body must be the current one.
    #[command(
        after_help = examples(&["records update --module contacts rec_0190c3b1-… --data '{\"fields\":{\"status\":\"customer\"}}'"])
    )]
    Update {
        #[command(flatten)]
        record: RecordArg,
        #[command(flatten)]
        data: DataArg,
    },
    /// Create or update the record with this external id.
    #[command(
        after_help = examples(&["records upsert --module contacts --external-id crm-1042 --data @contact.json"])
    )]
    Upsert {
        #[command(flatten)]
        module: ModuleArg,
        /// The id the record has in the system it comes from.
        #[arg(long)]
        external_id: String,
        #[command(flatten)]
        data: DataArg,
    },
    /// Create or update the record whose --match field holds the body's value (spec 001).
    #[command(
        after_help = examples(&["records upsert-by --module contacts --match email --data '{\"fields\":{\"email\":\"ada@acme.com\",\"status\":\"lead\"}}'"])
    )]
    UpsertBy {
        #[command(flatten)]
        module: ModuleArg,
        /// The field that finds the record: email, name, or any field with a match key.
        #[arg(long = "match")]
        match_field: String,
        #[command(flatten)]
        data: DataArg,
    },
    /// Find the one record whose field matches a value, normalised as imports match it.
    #[command(
        after_help = examples(&["records lookup --module contacts email=Ada@Acme.com", "records lookup --module accounts name=acme"])
    )]
    Lookup {
        #[command(flatten)]
        module: ModuleArg,
        /// FIELD=VALUE, e.g. email=ada@example.com (name= matches the display name in modules
        /// without a name field).
        query: String,
    },
    /// Replace a record (PUT): what the body leaves out is cleared.
    #[command(
        after_help = examples(&["records replace --module contacts rec_0190c3b1-… --data @contact.json"])
    )]
    Replace {
        #[command(flatten)]
        record: RecordArg,
        #[command(flatten)]
        data: DataArg,
    },
    /// Move a record to the trash.
    #[command(
        after_help = examples(&["records delete --module contacts rec_0190c3b1-…"])
    )]
    Delete {
        #[command(flatten)]
        record: RecordArg,
    },
    /// Bring a record back from the trash.
    #[command(
        after_help = examples(&["records restore --module contacts rec_0190c3b1-…"])
    )]
    Restore {
        #[command(flatten)]
        record: RecordArg,
        /// Instead: put a live record's values back as they were at this version (a new
        /// version).
        #[arg(long)]
        version: Option<i64>,
    },
    /// Who changed what and when, newest first (spec 004's changelog).
    #[command(
        after_help = examples(&["records changelog --module contacts rec_0190c3b1-… --limit 20 --start-date 2026-01-01"])
    )]
    Changelog {
        #[command(flatten)]
        record: RecordArg,
        /// At most this many entries (default 50, at most 1,000).
        #[arg(long)]
        limit: Option<u32>,
        /// From this date (2024-01-15) or time (RFC 3339), inclusive.
        #[arg(long)]
        start_date: Option<String>,
        /// Up to this date or time, inclusive.
        #[arg(long)]
        end_date: Option<String>,
    },
    /// A record's version history.
    #[command(
        after_help = examples(&["records history --module contacts rec_0190c3b1-…"])
    )]
    History {
        #[command(flatten)]
        record: RecordArg,
    },
    /// List the trash.
    #[command(
        after_help = examples(&["records trash --module contacts --page-size 100"])
    )]
    Trash {
        #[command(flatten)]
        module: ModuleArg,
        /// Page number, from 1.
        #[arg(long, default_value_t = 1)]
        page: u32,
        /// Records per page.
        #[arg(long, default_value_t = 25)]
        page_size: u32,
    },
    /// Delete a trashed record for good.
    #[command(
        after_help = examples(&["records purge --module contacts rec_0190c3b1-…"])
    )]
    Purge {
        #[command(flatten)]
        record: RecordArg,
    },
    /// Delete every trashed record of the module for good.
    #[command(after_help = examples(&["records empty-trash --module contacts"]))]
    EmptyTrash {
        #[command(flatten)]
        module: ModuleArg,
    },
    /// Create many records in one transaction: a JSON array of bodies or {"records": [...]}.
    #[command(
        after_help = examples(&["records bulk-create --module accounts --data @sample-data/records/accounts.json"])
    )]
    BulkCreate {
        #[command(flatten)]
        module: ModuleArg,
        #[command(flatten)]
        data: DataArg,
    },
    /// Update many records in one transaction: {"updates": [{"id", "fields", "version"?}]} (spec
    /// 004, up to 1,000), or add/remove labels and types on up to 100 (spec 000's body).
    #[command(
        after_help = examples(&["records bulk-update --module contacts --data '{\"updates\":[{\"id\":\"rec_…\",\"fields\":{\"status\":\"customer\"}}]}'", "records bulk-update --module contacts --data @bulk-update.json"])
    )]
    BulkUpdate {
        #[command(flatten)]
        module: ModuleArg,
        #[command(flatten)]
        data: DataArg,
    },
    /// Move up to 100 records to the trash.
    #[command(
        after_help = examples(&["records bulk-delete --module contacts rec_0190c3b1-… rec_0190c3b2-…"])
    )]
    BulkDelete {
        #[command(flatten)]
        module: ModuleArg,
        /// Record ids (rec_…), up to 100.
        #[arg(required = true)]
        ids: Vec<String>,
    },
    /// Restore up to 100 trashed records.
    #[command(
        after_help = examples(&["records bulk-restore --module contacts rec_0190c3b1-… rec_0190c3b2-…"])
    )]
    BulkRestore {
        #[command(flatten)]
        module: ModuleArg,
        /// Record ids (rec_…), up to 100.
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
    /// Only records matching these words (in any text field).
    #[arg(long)]
    pub search: Option<String>,
    /// field:asc or field:desc (default: newest first).
    #[arg(long)]
    pub sort: Option<String>,
    /// Page number, from 1 (default 1).
    #[arg(long)]
    pub page: Option<u32>,
    /// Records per page (default 25).
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
    /// Reference fields whose records are embedded in place of their ids, comma-separated.
    #[arg(long, value_delimiter = ',')]
    pub expand: Vec<String>,
}

pub async fn run(
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
            record: RecordArg { module, id },

            version,
            expand,
            include_history,
            include_changelog,
        } => {
            let options = GetOptions {
                version,
                expand,
                include_history,
                include_changelog,
            };
            let view = service.get_with(&module.module, &id, &options).await?;
            out.print(&view, || record_table(&view.record))
        }
        RecordsCommand::Create { module, data } => {
            let input = RecordInput::from_json(read_data(&data.data)?, "--data")?;
            let record = service.create(&module.module, input, actor).await?;
            out.print(&json!({ "record": record }), || {
                format!("created {}\n{}", record.id, record_table(&record))
            })
        }
        RecordsCommand::Update {
            record: RecordArg { module, id },
            data,
        } => {
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
            print_upserted(out, &record, created)
        }
        RecordsCommand::UpsertBy {
            module,
            match_field,
            data,
        } => {
            let record = RecordInput::from_json(read_data(&data.data)?, "--data")?;
            let request = MatchUpsert {
                match_field,
                record,
            };
            let (record, created) = service
                .upsert_by_match(&module.module, request, actor)
                .await?;
            print_upserted(out, &record, created)
        }
        RecordsCommand::Lookup { module, query } => {
            let Some((field, value)) = query.split_once('=') else {
                return Err(Error::validation(format!(
                    "lookup: expected FIELD=VALUE (e.g. email=ada@example.com), got '{query}'"
                )));
            };
            let record = service.lookup(&module.module, field.trim(), value).await?;
            out.print(&json!({ "record": record }), || record_table(&record))
        }
        RecordsCommand::Replace {
            record: RecordArg { module, id },
            data,
        } => {
            let input = RecordInput::from_json(read_data(&data.data)?, "--data")?;
            let record = service.replace(&module.module, &id, input, actor).await?;
            out.print(&json!({ "record": record }), || {
                format!(
                    "replaced {} (version {})\n{}",
                    record.id,
                    record.version,
                    record_table(&record)
                )
            })
        }
        RecordsCommand::Delete {
            record: RecordArg { module, id },
        } => {
            service.delete(&module.module, &id, actor).await?;
            out.print(&json!({ "success": true }), || {
                format!("moved {id} to the trash")
            })
        }
        RecordsCommand::Restore {
            record: RecordArg { module, id },

            version: Some(version),
        } => {
            let record = service
                .restore_version(&module.module, &id, version, None, actor)
                .await?;
            out.print(&json!({ "record": record }), || {
                format!(
                    "restored {} to version {version}: now version {}",
                    record.id, record.version
                )
            })
        }
        RecordsCommand::Changelog {
            record: RecordArg { module, id },

            limit,
            start_date,
            end_date,
        } => {
            let mut params: Vec<(&str, String)> = Vec::new();
            if let Some(limit) = limit {
                params.push(("limit", limit.to_string()));
            }
            params.extend(start_date.map(|d| ("startDate", d)));
            params.extend(end_date.map(|d| ("endDate", d)));
            let query = ChangelogQuery::from_params(params.iter().map(|(k, v)| (*k, v.as_str())))?;
            let entries = service.changelog(&module.module, &id, &query).await?;
            out.print(&json!({ "entries": entries }), || {
                rows_table(&["when", "action", "by", "changes"], &entries, |e| {
                    vec![
                        e.timestamp.clone(),
                        e.action.clone(),
                        e.user_name.clone().unwrap_or_default(),
                        changes_text(&e.changes, "oldValue", "newValue"),
                    ]
                })
            })
        }
        RecordsCommand::Restore {
            record: RecordArg { module, id },

            version: None,
        } => {
            let record = service.restore(&module.module, &id, actor).await?;
            out.print(&json!({ "record": record }), || {
                format!("restored {}", record.id)
            })
        }
        RecordsCommand::History {
            record: RecordArg { module, id },
        } => {
            let versions = service.history(&module.module, &id).await?;
            out.print(&json!({ "versions": versions }), || {
                rows_table(
                    &["version", "action", "when", "by", "changes"],
                    &versions,
                    |v| {
                        vec![
                            v.version.to_string(),
                            v.action.clone(),
                            v.changed_date_time.clone(),
                            v.user_display_name.clone().unwrap_or_default(),
                            changes_text(&v.changes, "old", "new"),
                        ]
                    },
                )
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
        RecordsCommand::Purge {
            record: RecordArg { module, id },
        } => {
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
            let request = BulkCreate::from_json(read_data(&data.data)?)?;
            let records = service
                .bulk_create(&module.module, request.records, actor)
                .await?;
            out.print(
                &json!({ "records": records, "created": records.len() }),
                || format!("created {} records", records.len()),
            )
        }
        RecordsCommand::BulkUpdate { module, data } => {
            let body = read_data(&data.data)?;
            if body.get("updates").is_some() {
                let request = BulkPatch::from_json(body)?;
                let records = service.bulk_patch(&module.module, request, actor).await?;
                return out.print(&json!({ "records": records }), || {
                    format!("updated {} records", records.len())
                });
            }
            let request: BulkUpdate =
                serde_json::from_value(body).map_err(|e| Error::json("--data", e))?;
            let records = service.bulk_update(&module.module, &request, actor).await?;
            out.print(&json!({ "records": records }), || {
                rows_table(
                    &["id", "displayName", "labelIds", "typeIds"],
                    &records,
                    |r| {
                        vec![
                            r.id.clone(),
                            r.display_name.clone(),
                            r.label_ids.join(", "),
                            r.type_ids.join(", "),
                        ]
                    },
                )
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
        expand: args.expand,
        access: Default::default(),
    })
}

/// One line per changed field: `field: old → new`, the two values read from `old` and `new`.
fn changes_text(changes: &serde_json::Map<String, Value>, old: &str, new: &str) -> String {
    changes
        .iter()
        .map(|(k, c)| format!("{k}: {} → {}", short(&c[old]), short(&c[new])))
        .collect::<Vec<_>>()
        .join("\n")
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
    let t = rows_table(&header, &result.records, |r| {
        let mut row = vec![r.id.clone(), r.display_name.clone()];
        row.extend(
            shown
                .iter()
                .map(|s| r.fields.get(*s).map(short).unwrap_or_default()),
        );
        row.push(r.version.to_string());
        row
    });
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
    let provenance = record.imported_by.as_ref();
    for (label, job) in [
        (
            "created by import",
            provenance.and_then(|p| p.created_by_job.as_ref()),
        ),
        (
            "updated by import",
            provenance.and_then(|p| p.updated_by_job.as_ref()),
        ),
    ] {
        if let Some(job) = job {
            row(label, job.clone());
        }
    }
    t.to_string()
}

fn read_data(arg: &str) -> Result<Value> {
    serde_json::from_str(&read_arg_text(arg)?).map_err(|e| Error::json("--data", e))
}

/// An upsert's record: created or updated.
fn print_upserted(out: &Output, record: &Record, created: bool) -> Result<()> {
    out.print(&json!({ "record": record, "created": created }), || {
        format!(
            "{} {}\n{}",
            if created { "created" } else { "updated" },
            record.id,
            record_table(record)
        )
    })
}
