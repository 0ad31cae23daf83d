//! A record's past in spec 004's shapes: the version history, the changelog (who changed what,
//! when), a get that carries both, and the restore of a past version.
//!
//! In: a record and what the caller asks of its past. Out: [`HistoryVersion`]s (newest first,
//! each with the values it had and what changed), [`ChangelogEntry`]s, or the record put back as
//! it was. Guarantees: everything is derived from the version rows the store already keeps
//! ([`super::history`]); a restore is a new version (the history keeps what it undid), checked
//! like any update (unique values, optimistic locking).

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use serde_json::{Map, Value, json};

use super::history::{self, VersionEntry};
use super::{Actor, Change, Expand, Liveness, Record, RecordService, load};
use crate::error::{Error, Result};

/// Most changelog entries one request returns.
pub const MAX_CHANGELOG_ENTRIES: u32 = 1000;

/// What a get asks for beyond the record (spec 004's query parameters).
#[derive(Debug, Clone, Default)]
pub struct GetOptions {
    /// The record as it was at this version.
    pub version: Option<i64>,
    /// Reference fields to embed.
    pub expand: Vec<String>,
    pub include_history: bool,
    pub include_changelog: bool,
}

impl GetOptions {
    /// Reads `version`, `expand`, `includeHistory` and `includeChangelog`; any other parameter is
    /// a validation error, as on the list.
    pub fn from_params<'a>(params: impl IntoIterator<Item = (&'a str, &'a str)>) -> Result<Self> {
        let mut options = GetOptions::default();
        for (key, value) in params {
            match key {
                "version" => {
                    options.version = Some(value.parse().map_err(|_| {
                        Error::invalid_field(
                            "version",
                            "must be a whole number",
                            Some(json!(value)),
                        )
                    })?)
                }
                "expand" => {
                    options.expand = value
                        .split(',')
                        .map(str::trim)
                        .filter(|s| !s.is_empty())
                        .map(str::to_string)
                        .collect()
                }
                "includeHistory" => options.include_history = flag(key, value)?,
                "includeChangelog" => options.include_changelog = flag(key, value)?,
                _ => {
                    return Err(Error::validation(format!(
                        "unknown query parameter '{key}' (a get takes version, expand, \
                         includeHistory, includeChangelog)"
                    )));
                }
            }
        }
        Ok(options)
    }
}

fn flag(name: &str, value: &str) -> Result<bool> {
    match value {
        "true" | "1" => Ok(true),
        "false" | "0" => Ok(false),
        _ => Err(Error::invalid_field(
            name,
            "must be true or false",
            Some(json!(value)),
        )),
    }
}

/// A record with what a get asked for of its past.
#[derive(Debug, Clone, Serialize)]
pub struct RecordView {
    pub record: Record,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub history: Option<Vec<HistoryVersion>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub changelog: Option<Vec<ChangelogEntry>>,
}

/// One version in spec 004's history: the values the record had then and what changed.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HistoryVersion {
    pub version: i64,
    pub action: String,
    pub data: Map<String, Value>,
    /// When the version was made (`createdAt` for version 1, as the spec shows it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub updated_by: Option<String>,
    /// `{field: {"old", "new"}}`; absent for the first version.
    #[serde(skip_serializing_if = "Map::is_empty")]
    pub changes: Map<String, Value>,
    /// The import job that made this version, if one did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub import_job_id: Option<String>,
    /// What was said of the change (`reason`; an import's `source` and `jobId`).
    #[serde(skip_serializing_if = "Map::is_empty")]
    pub metadata: Map<String, Value>,
}

impl From<VersionEntry> for HistoryVersion {
    fn from(entry: VersionEntry) -> Self {
        let first = entry.version == 1;
        HistoryVersion {
            version: entry.version,
            action: entry.action,
            data: entry.fields,
            updated_at: (!first).then(|| entry.changed_date_time.clone()),
            created_at: first.then_some(entry.changed_date_time),
            updated_by: entry.user_id,
            changes: entry.changes,
            import_job_id: entry.import_job_id,
            metadata: entry.metadata,
        }
    }
}

/// One entry of spec 004's changelog.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ChangelogEntry {
    /// `<record id>@<version>`: the version this entry describes.
    pub id: String,
    pub record_id: String,
    pub action: String,
    pub user_id: Option<String>,
    pub user_name: Option<String>,
    pub timestamp: String,
    /// `{field: {"field", "oldValue", "newValue"}}`.
    pub changes: Map<String, Value>,
    pub metadata: Map<String, Value>,
}

impl ChangelogEntry {
    fn of(record_id: &str, entry: VersionEntry) -> ChangelogEntry {
        let changes = entry
            .changes
            .into_iter()
            .map(|(field, change)| {
                let described = json!({
                    "field": field,
                    "oldValue": change.get("old").cloned().unwrap_or(Value::Null),
                    "newValue": change.get("new").cloned().unwrap_or(Value::Null),
                });
                (field, described)
            })
            .collect();
        ChangelogEntry {
            id: format!("{record_id}@{}", entry.version),
            record_id: record_id.to_string(),
            action: entry.action,
            user_id: entry.user_id,
            user_name: entry.user_display_name,
            timestamp: entry.changed_date_time,
            changes,
            metadata: entry.metadata,
        }
    }
}

/// Which changelog entries to return: newest first, at most `limit`, within the dates given
/// (inclusive; a date alone covers its whole day).
#[derive(Debug, Clone, Default)]
pub struct ChangelogQuery {
    pub limit: Option<u32>,
    pub start_date: Option<String>,
    pub end_date: Option<String>,
}

impl ChangelogQuery {
    pub fn from_params<'a>(params: impl IntoIterator<Item = (&'a str, &'a str)>) -> Result<Self> {
        let mut query = ChangelogQuery::default();
        for (key, value) in params {
            match key {
                "limit" => {
                    let limit: u32 = value.parse().ok().filter(|n| *n >= 1).ok_or_else(|| {
                        Error::invalid_field(
                            "limit",
                            format!("must be a whole number from 1 to {MAX_CHANGELOG_ENTRIES}"),
                            Some(json!(value)),
                        )
                    })?;
                    query.limit = Some(limit.min(MAX_CHANGELOG_ENTRIES));
                }
                "startDate" => query.start_date = Some(check_date(key, value)?),
                "endDate" => query.end_date = Some(check_date(key, value)?),
                _ => {
                    return Err(Error::validation(format!(
                        "unknown query parameter '{key}' (a changelog takes limit, startDate, \
                         endDate)"
                    )));
                }
            }
        }
        Ok(query)
    }

    fn keeps(&self, timestamp: &str) -> bool {
        // Stored times are formatted one way (`2024-01-15T10:30:00Z`), so a prefix of the same
        // length compares as the time does.
        let within = |bound: &str| &timestamp[..bound.len().min(timestamp.len())];
        self.start_date
            .as_deref()
            .is_none_or(|start| within(start) >= start)
            && self
                .end_date
                .as_deref()
                .is_none_or(|end| within(end) <= end)
    }
}

/// A date (`2024-01-15`) or an RFC 3339 time, normalised to the stored format.
fn check_date(name: &str, value: &str) -> Result<String> {
    if NaiveDate::parse_from_str(value, "%Y-%m-%d").is_ok() {
        return Ok(value.to_string());
    }
    DateTime::parse_from_rfc3339(value)
        .map(|t| {
            t.with_timezone(&Utc)
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        })
        .map_err(|_| {
            Error::invalid_field(
                name,
                "must be a date (2024-01-15) or a time (2024-01-15T10:30:00Z)",
                Some(json!(value)),
            )
        })
}

impl RecordService {
    /// A live record, or one of its versions (of a trashed record too), with what `options`
    /// asks for.
    pub async fn get_with(
        &self,
        module: &str,
        id: &str,
        options: &GetOptions,
    ) -> Result<RecordView> {
        let module = self.modules.get(module).await?;
        let expand = Expand::parse(&module, &options.expand)?;
        let mut tx = self.store.begin_read().await?;
        let liveness = match options.version {
            Some(_) => Liveness::Any,
            None => Liveness::Live,
        };
        let current = load(&mut tx, &module, id, liveness, &self.access).await?;
        let entries = if options.include_history || options.include_changelog {
            history::history(&mut tx, &current).await?
        } else {
            Vec::new()
        };
        let record = match options.version {
            Some(version) => history::at_version(&mut tx, &current, version).await?,
            None => current,
        };
        tx.commit().await?;
        let mut records = [record];
        if !expand.is_empty() {
            self.expand(&module, &mut records, &expand).await?;
        }
        let [record] = records;
        Ok(RecordView {
            changelog: options.include_changelog.then(|| {
                let id = record.id.clone();
                entries
                    .iter()
                    .cloned()
                    .map(|e| ChangelogEntry::of(&id, e))
                    .collect()
            }),
            history: options
                .include_history
                .then(|| entries.into_iter().map(HistoryVersion::from).collect()),
            record,
        })
    }

    /// Spec 004's history: every version, newest first.
    pub async fn history_versions(&self, module: &str, id: &str) -> Result<Vec<HistoryVersion>> {
        Ok(self
            .history(module, id)
            .await?
            .into_iter()
            .map(HistoryVersion::from)
            .collect())
    }

    /// Spec 004's changelog: who changed what and when, newest first.
    pub async fn changelog(
        &self,
        module: &str,
        id: &str,
        query: &ChangelogQuery,
    ) -> Result<Vec<ChangelogEntry>> {
        let limit = query.limit.unwrap_or(50) as usize;
        Ok(self
            .history(module, id)
            .await?
            .into_iter()
            .filter(|e| query.keeps(&e.changed_date_time))
            .take(limit)
            .map(|e| ChangelogEntry::of(id, e))
            .collect())
    }

    /// Puts the record's values back as they were at `version`, as a new version. `expected`
    /// is the version the caller last saw (optimistic locking), when given.
    pub async fn restore_version(
        &self,
        module: &str,
        id: &str,
        version: i64,
        expected: Option<i64>,
        actor: &Actor,
    ) -> Result<Record> {
        self.change(module, id, Change::BackTo(version), expected, actor)
            .await
    }
}
