//! `recordport module …`: define modules (schemas) from JSON files, list them, show one.
//!
//! In: module definition files (`sample-data/modules/*.json`) or a slug. Out: what each file did
//! (created, updated, unchanged), the module list or one module's fields and locale, as a table
//! or JSON.
//! `apply` checks every file and every reference first, so a bad file changes nothing.

use std::path::PathBuf;

use clap::{Args, Subcommand};
use serde_json::json;

use super::{Output, examples, read_file, rows_table};
use crate::error::{Error, Result};
use crate::records::RecordService;
use crate::schema::{Module, ModuleDef};

#[derive(Debug, Args)]
pub struct ModuleArgs {
    #[command(flatten)]
    scope: super::scope::NoAuthor,
    #[command(subcommand)]
    pub command: ModuleCommand,
}

#[derive(Debug, Subcommand)]
pub enum ModuleCommand {
    /// Create or update modules from definition files (idempotent).
    #[command(after_help = examples(&["module apply sample-data/modules/*.json"]))]
    Apply {
        /// Module definition files (JSON), one module each; an optional "locale" (e.g. de-DE)
        /// says how imports into the module read dates and numbers.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// List the modules.
    #[command(after_help = examples(&["module list"]))]
    List,
    /// Show one module's fields.
    #[command(after_help = examples(&["module show contacts"]))]
    Show {
        /// The module's slug, e.g. contacts.
        slug: String,
    },
}

pub async fn run(service: &RecordService, cmd: ModuleCommand, out: &Output) -> Result<()> {
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
                rows_table(&["slug", "name", "fields", "id"], &modules, |m| {
                    vec![
                        m.slug().to_string(),
                        m.def.name.clone(),
                        m.def.fields.len().to_string(),
                        m.id.clone(),
                    ]
                })
            })
        }
        ModuleCommand::Show { slug } => {
            let module = registry.get(&slug).await?;
            out.print(&json!({ "module": module }), || module_table(&module))
        }
    }
}

fn module_table(module: &Module) -> String {
    let fields = rows_table(
        &["field", "label", "type", "flags", "details"],
        &module.def.fields,
        |f| {
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
            vec![
                f.slug.clone(),
                f.label.clone(),
                f.field_type.as_str().to_string(),
                flags.join(", "),
                details,
            ]
        },
    );
    let locale = match &module.def.locale {
        Some(tag) => format!("locale: {tag}\n"),
        None => String::new(),
    };
    format!(
        "{} ({}), {}\ndisplay name: {}\n{locale}{fields}",
        module.def.name,
        module.slug(),
        module.id,
        module.def.display_name.join(" | ")
    )
}
