//! Typed errors of the library. One table (`Error::code`, `Error::http_status`) maps every error to
//! the stable code and HTTP status of spec 000, so the CLI's `--json` output and the HTTP API agree.

use serde::Serialize;
use serde_json::{Value, json};

/// One field that failed validation, as spec 000's `details.fields[]` shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FieldError {
    pub field: String,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<Value>,
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The request is malformed or a value does not fit its field.
    #[error("{message}")]
    Validation {
        message: String,
        fields: Vec<FieldError>,
    },
    /// A CQL query that does not parse or does not fit its modules: where in the query text
    /// (1-based line and column, in characters) and what to change.
    #[error("line {line}, column {column}: {message}")]
    Query {
        line: u32,
        column: u32,
        message: String,
    },
    #[error("{entity} '{id}' not found")]
    NotFound { entity: &'static str, id: String },
    /// Optimistic locking failed or a unique value is already taken.
    #[error("{message}")]
    Conflict { message: String, details: Value },
    /// Another transaction changed rows this one read before it wrote them (a record updated or
    /// deleted meanwhile): the work can be decided again against the committed rows (see
    /// [`Error::is_write_conflict`]).
    #[error("{message}")]
    ConcurrentChange { message: String, details: Value },
    /// A file that cannot be read as a table: names the file and, when known, the row and column.
    #[error("{}", source_message(file, *row, column.as_deref(), message))]
    Source {
        file: String,
        row: Option<u64>,
        column: Option<String>,
        message: String,
    },
    /// An input over a configured limit (file size, columns, cell size).
    #[error("{file}: {message}")]
    TooLarge { file: String, message: String },
    /// An import over its error budget (`maxErrors`): stopped, failed and undone.
    #[error(
        "{} stopped at row {row}: {error_rows} rows failed, over the error budget of {budget} \
         ({limit} rows of {total_rows}); everything it wrote was undone",
        job_id.as_deref().map_or("the import".to_string(), |id| format!("import job {id}"))
    )]
    ErrorBudgetExceeded {
        job_id: Option<String>,
        row: u64,
        error_rows: u64,
        budget: String,
        limit: u64,
        total_rows: u64,
    },
    #[error("invalid database URL '{url}': {reason}")]
    DatabaseUrl { url: String, reason: String },
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// A failure of SQLite's bulk paths (rusqlite on the same connection).
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("database migration failed: {0}")]
    Migration(#[from] sqlx::migrate::MigrateError),
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    /// A worker lost its lease on a job (it stalled past the lease and another worker claimed the
    /// job); whatever it was about to write is rolled back.
    #[error("job {job_id}: the lease was lost to another worker")]
    LeaseLost { job_id: String },
    #[error("{context}: invalid JSON: {source}")]
    Json {
        context: String,
        #[source]
        source: serde_json::Error,
    },
    /// Data the store holds is not what this program wrote (a stored job, ledger line or record
    /// that does not parse): never the caller's fault.
    #[error("corrupt stored data: {what}")]
    Corrupt { what: String },
    /// A failure inside this program (a task that panicked, a thread that could not start): never
    /// the caller's fault.
    #[error("internal error: {message}")]
    Internal { message: String },
}

fn source_message(file: &str, row: Option<u64>, column: Option<&str>, message: &str) -> String {
    let mut out = file.to_string();
    if let Some(row) = row {
        out.push_str(&format!(", row {row}"));
    }
    if let Some(column) = column {
        out.push_str(&format!(", column '{column}'"));
    }
    format!("{out}: {message}")
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn validation(message: impl Into<String>) -> Self {
        Error::Validation {
            message: message.into(),
            fields: Vec::new(),
        }
    }

    /// A validation error about one field, with the message naming the field.
    pub fn invalid_field(field: &str, message: impl Into<String>, value: Option<Value>) -> Self {
        let message = message.into();
        Error::Validation {
            message: format!("{field}: {message}"),
            fields: vec![FieldError {
                field: field.to_string(),
                message,
                value,
            }],
        }
    }

    pub fn not_found(entity: &'static str, id: impl Into<String>) -> Self {
        Error::NotFound {
            entity,
            id: id.into(),
        }
    }

    /// Stored data that does not parse: `what` names it and says why.
    pub fn corrupt(what: impl Into<String>) -> Self {
        Error::Corrupt { what: what.into() }
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Error::Internal {
            message: message.into(),
        }
    }

    /// Whether the database refused a write because another row holds a unique value (another
    /// transaction got there first): a conflict, not an internal failure.
    pub fn is_unique_violation(&self) -> bool {
        match self {
            Error::Database(sqlx::Error::Database(db)) => db.is_unique_violation(),
            Error::Sqlite(rusqlite::Error::SqliteFailure(failure, _)) => matches!(
                failure.extended_code,
                rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
                    | rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY
            ),
            _ => false,
        }
    }

    /// Whether a write failed because of another transaction running beside it — a unique value
    /// it committed first, a row it changed since this one read it, a deadlock between the two,
    /// a serialization failure — so that the same work, rolled back and decided again against
    /// the committed rows, can succeed.
    pub fn is_write_conflict(&self) -> bool {
        match self {
            Error::ConcurrentChange { .. } => true,
            // PostgreSQL's deadlock_detected and serialization_failure.
            Error::Database(sqlx::Error::Database(db))
                if matches!(db.code().as_deref(), Some("40P01" | "40001")) =>
            {
                true
            }
            _ => self.is_unique_violation(),
        }
    }

    pub fn json(context: impl Into<String>, source: serde_json::Error) -> Self {
        Error::Json {
            context: context.into(),
            source,
        }
    }

    /// The stable error code of spec 000.
    pub fn code(&self) -> &'static str {
        match self {
            Error::Validation { .. } | Error::Json { .. } | Error::Query { .. } => {
                "validation_error"
            }
            Error::Source { .. } => "invalid_file",
            Error::TooLarge { .. } => "file_too_large",
            Error::ErrorBudgetExceeded { .. } => "error_budget_exceeded",
            Error::NotFound { .. } => "not_found",
            Error::Conflict { .. } | Error::ConcurrentChange { .. } | Error::LeaseLost { .. } => {
                "conflict"
            }
            Error::Database(_) | Error::Sqlite(_) if self.is_unique_violation() => "conflict",
            Error::DatabaseUrl { .. } => "invalid_configuration",
            Error::Database(_)
            | Error::Sqlite(_)
            | Error::Migration(_)
            | Error::Io { .. }
            | Error::Corrupt { .. }
            | Error::Internal { .. } => "internal_error",
        }
    }

    pub fn http_status(&self) -> u16 {
        match self {
            Error::Validation { .. }
            | Error::Json { .. }
            | Error::Query { .. }
            | Error::Source { .. } => 400,
            Error::TooLarge { .. } => 413,
            // The file is the caller's, and so are its bad rows.
            Error::ErrorBudgetExceeded { .. } => 422,
            Error::NotFound { .. } => 404,
            Error::Conflict { .. } | Error::ConcurrentChange { .. } | Error::LeaseLost { .. } => {
                409
            }
            Error::Database(_) | Error::Sqlite(_) if self.is_unique_violation() => 409,
            Error::DatabaseUrl { .. }
            | Error::Database(_)
            | Error::Sqlite(_)
            | Error::Migration(_)
            | Error::Io { .. }
            | Error::Corrupt { .. }
            | Error::Internal { .. } => 500,
        }
    }

    /// The spec's error body: `{"error":{"code","message","details"}}`.
    pub fn to_json(&self) -> Value {
        let details = match self {
            Error::Validation { fields, .. } if fields.len() == 1 => json!({
                "field": fields[0].field,
                "message": fields[0].message,
                "fields": fields,
            }),
            Error::Validation { fields, .. } if !fields.is_empty() => json!({ "fields": fields }),
            Error::NotFound { entity, id } => json!({ "entity": entity, "id": id }),
            Error::Query { line, column, .. } => json!({ "line": line, "column": column }),
            Error::Conflict { details, .. } | Error::ConcurrentChange { details, .. } => {
                details.clone()
            }
            Error::Source {
                file, row, column, ..
            } => json!({ "file": file, "row": row, "column": column }),
            Error::ErrorBudgetExceeded {
                job_id,
                row,
                error_rows,
                budget,
                limit,
                total_rows,
            } => json!({
                "jobId": job_id, "row": row, "errorRows": error_rows, "maxErrors": budget,
                "limit": limit, "totalRows": total_rows,
            }),
            _ => json!({}),
        };
        json!({ "error": { "code": self.code(), "message": self.to_string(), "details": details } })
    }
}

/// A caller's value as an error shows it: at most 80 characters (a hostile value must not fill
/// the response or the log), with `…` where it was cut.
pub fn excerpt(value: &str) -> String {
    const MAX_CHARS: usize = 80;
    match value.char_indices().nth(MAX_CHARS) {
        Some((end, _)) => format!("{}…", &value[..end]),
        None => value.to_string(),
    }
}
