//! `recordport query "FROM …" [--param name=value]…`: a CQL query (spec 004) on the command line.
//!
//! In: the query text (or `@FILE`) and its parameters, each `name=value` with the value read as
//! JSON when it parses (`min=500`, `active=true`, `ids=["a","b"]`) and as text otherwise
//! (`city=Paris`). Out: the records (and how many included records each has) or the groups as a
//! table, or with `--json` the body `POST /v1/query` answers. One library call.

use clap::Args;
use serde_json::{Map, Value};

use super::{Output, read_arg_text, table};
use crate::error::{Error, Result};
use crate::records::RecordService;
use crate::records::cql::QueryOutput;
use crate::schema::value::display_text;

#[derive(Debug, Args)]
pub struct QueryArgs {
    /// The query, e.g. "FROM contacts WHERE deal_value > :min ORDER BY deal_value DESC", or @FILE.
    pub query: String,
    /// A parameter of the query: NAME=VALUE (VALUE as JSON when it parses, else text); repeat
    /// for more.
    #[arg(short, long = "param", value_name = "NAME=VALUE")]
    pub params: Vec<String>,
}

pub async fn run(service: &RecordService, args: QueryArgs, out: &Output) -> Result<()> {
    let text = read_arg_text(&args.query)?;
    let parameters = parameters(&args.params)?;
    let output = service.query(&text, &parameters).await?;
    out.print(&output, || render(&output))
}

fn parameters(args: &[String]) -> Result<Map<String, Value>> {
    let mut parameters = Map::new();
    for arg in args {
        let Some((name, raw)) = arg.split_once('=') else {
            return Err(Error::invalid_field(
                "--param",
                "takes NAME=VALUE, e.g. --param min=500",
                Some(Value::String(arg.clone())),
            ));
        };
        let value = serde_json::from_str(raw).unwrap_or_else(|_| Value::String(raw.to_string()));
        parameters.insert(name.trim().to_string(), value);
    }
    Ok(parameters)
}

fn render(output: &QueryOutput) -> String {
    match output {
        QueryOutput::Records {
            results,
            pagination,
        } => {
            let relations: Vec<&String> = results
                .first()
                .map(|r| r.included.keys().collect())
                .unwrap_or_default();
            let mut header = vec!["id", "displayName"];
            header.extend(relations.iter().map(|r| r.as_str()));
            let mut t = table(&header);
            for result in results {
                let mut row = vec![result.record.id.clone(), result.record.display_name.clone()];
                row.extend(
                    result
                        .included
                        .values()
                        .map(|records| records.len().to_string()),
                );
                t.add_row(row);
            }
            let more = if pagination.has_more {
                format!(
                    "; more with OFFSET {}",
                    pagination.offset + u64::from(pagination.limit)
                )
            } else {
                String::new()
            };
            format!(
                "{t}\n{} of {} records{more}",
                results.len(),
                pagination.total.unwrap_or_default()
            )
        }
        QueryOutput::Groups { groups, .. } => {
            let header: Vec<&str> = groups
                .first()
                .map(|g| g.keys().map(String::as_str).collect())
                .unwrap_or_default();
            let mut t = table(&header);
            for group in groups {
                t.add_row(group.values().map(display_text).collect::<Vec<_>>());
            }
            format!("{t}\n{} groups", groups.len())
        }
    }
}
