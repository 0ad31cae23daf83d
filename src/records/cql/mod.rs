//! CQL, the query language of spec 004 (`POST /v1/query`, `recordport query`):
//!
//! ```text
//! FROM module [WHERE cond] [GROUP BY f, …] [SELECT f, COUNT(*) AS n, SUM(f) …]
//!             [ORDER BY f [ASC|DESC]] [LIMIT n] [OFFSET n]
//!             [INCLUDE relation FROM module WHERE field = Parent.field [AND cond]]…
//! cond: f = v | f != v | f <> v | f < v | f <= v | f > v | f >= v | f [NOT] BETWEEN v AND v
//!     | f [NOT] IN (v, …) | f [NOT] IN :list | f IS [NOT] NULL | SEARCH("words") IN (f, …)
//!     | cond AND cond | cond OR cond | NOT cond | (cond)
//! v:    "text" | 'text' | 12.5 | true | false | null | :parameter
//! ```
//!
//! In: the query text and its parameters. Out: [`QueryOutput`]: a page of records (with their
//! included records) or of groups. Stages, one file each: [`lexer`] (text → tokens with line and
//! column), [`parser`] (tokens → tree), [`compile`] (tree → the records list's own checked plan,
//! `ListQuery` with an `advancedFilter`, plus grouping and includes), [`run`] (plan → results).
//! Guarantees: no text of the query reaches SQL (names are looked up in the modules, values are
//! parsed for their field types and bound); every error in the query is an
//! [`crate::Error::Query`] naming the line and column and what to change; the text's length,
//! nesting, conditions, `IN` lists, `LIMIT` and included records are bounded.

pub mod compile;
pub mod lexer;
pub mod parser;
pub mod run;

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::error::Result;
use crate::records::{Record, RecordService};

/// The body of `POST /v1/query` (spec 004).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QueryRequest {
    pub query: String,
    /// Values of the query's `:name` parameters.
    #[serde(default)]
    pub parameters: Map<String, Value>,
}

/// What a query returns: `{"results", "pagination"}` for records, `{"groups", "pagination"}`
/// with `GROUP BY` or aggregates.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum QueryOutput {
    Records {
        results: Vec<QueryRecord>,
        pagination: QueryPagination,
    },
    Groups {
        groups: Vec<Map<String, Value>>,
        pagination: QueryPagination,
    },
}

/// A record in the product's shape, with the records each `INCLUDE` found for it under
/// `included.{relation}` (always a list; empty when none matched).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct QueryRecord {
    #[serde(flatten)]
    pub record: Record,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub included: BTreeMap<String, Vec<Record>>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct QueryPagination {
    pub limit: u32,
    pub offset: u64,
    /// How many records match (record queries only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total: Option<u64>,
    pub has_more: bool,
}

impl RecordService {
    /// Runs a CQL query. Errors in the query are [`crate::Error::Query`] (line, column, what to
    /// change).
    pub async fn query(&self, text: &str, parameters: &Map<String, Value>) -> Result<QueryOutput> {
        let tokens = lexer::lex(text)?;
        let tree = parser::parse(&tokens)?;
        let modules = self.modules.list().await?;
        let plan = compile::compile(
            &tree,
            &compile::Context {
                modules: &modules,
                parameters,
                dialect: self.store.dialect(),
                options: &self.value_options,
            },
        )?;
        run::run(&self.store, &plan, &self.value_options, &self.access).await
    }
}
