//! The record shapes of spec 000: what the service returns and what create/update take.

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};

use crate::error::{Error, Result};
use crate::store::{Dialect, RowValues, format_micros};

/// Who makes a change; stored as the created/updated user of the record and in its history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    pub user_id: String,
    pub display_name: String,
    /// What is said of the changes this actor makes (spec 004's `metadata`: a `reason` given
    /// with an update, `source: "import"` and the `jobId` of an import's): kept with each
    /// version it makes and sent in webhook payloads. Empty: nothing is said.
    pub metadata: Map<String, Value>,
}

/// Keys of change metadata the server sets: a body's are dropped, so a caller cannot pass a
/// change off as an import's or another user's.
pub const SERVER_METADATA_KEYS: [&str; 3] = ["source", "jobId", "userId"];

/// The most bytes a body's `metadata` may take as JSON: it is stored with every version.
pub const MAX_METADATA_BYTES: usize = 4096;

impl Actor {
    pub fn new(user_id: impl Into<String>, display_name: impl Into<String>) -> Self {
        Actor {
            user_id: user_id.into(),
            display_name: display_name.into(),
            metadata: Map::new(),
        }
    }

    /// This actor, saying `metadata` of its changes as well.
    pub fn with_metadata(&self, metadata: Map<String, Value>) -> Actor {
        let mut actor = self.clone();
        actor.metadata.extend(metadata);
        actor
    }

    /// [`Actor::metadata`] as the JSON text a version row keeps; `None` when empty.
    pub(crate) fn metadata_json(&self) -> Option<String> {
        (!self.metadata.is_empty()).then(|| Value::Object(self.metadata.clone()).to_string())
    }
}

/// A record as spec 000 shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Record {
    pub id: String,
    pub module_id: String,
    pub module_slug: String,
    pub display_name: String,
    pub fields: Map<String, Value>,
    pub label_ids: Vec<String>,
    pub type_ids: Vec<String>,
    pub privacy_level: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description_html: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
    /// The member who owns the record: its privacy level is about them (spec 003).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub owner_id: Option<String>,
    pub created_date_time: String,
    pub updated_date_time: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created_by_user_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created_by_display_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub updated_by_user_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub updated_by_display_name: Option<String>,
    pub version: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deleted_date_time: Option<String>,
    /// The imports that created and last changed the record; absent when none did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub imported_by: Option<ImportProvenance>,
}

/// Which import jobs a record came from: the one that created it and the one that last changed
/// it (either may be absent: a record made by hand and later updated by an import has only the
/// second). Kept on the record itself, so nothing is written per record to know it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ImportProvenance {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created_by_job: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub updated_by_job: Option<String>,
}

impl ImportProvenance {
    /// The provenance of the two stored columns; `None` when neither names a job.
    pub(crate) fn of(
        created_by_job: Option<String>,
        updated_by_job: Option<String>,
    ) -> Option<ImportProvenance> {
        (created_by_job.is_some() || updated_by_job.is_some()).then_some(ImportProvenance {
            created_by_job,
            updated_by_job,
        })
    }
}

/// The body of create and update (spec 000), plus `externalId` (spec 003) and, on update, the
/// `version` the caller last saw (optimistic locking).
///
/// On update, a key that is absent keeps its value; `null` clears it.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RecordInput {
    #[serde(default, deserialize_with = "present")]
    pub display_name: Option<Option<String>>,
    /// Spec 004 calls them `data`.
    #[serde(default, alias = "data")]
    pub fields: Option<Map<String, Value>>,
    #[serde(default)]
    pub label_ids: Option<Vec<String>>,
    #[serde(default)]
    pub type_ids: Option<Vec<String>>,
    #[serde(default)]
    pub privacy_level: Option<String>,
    #[serde(default, deserialize_with = "present")]
    pub description_html: Option<Option<String>>,
    #[serde(default)]
    pub external_id: Option<String>,
    /// The member who owns the record (spec 003); by default whoever creates it.
    #[serde(default)]
    pub owner_id: Option<String>,
    #[serde(default)]
    pub version: Option<i64>,
    /// Spec 004's change metadata (`{"reason": "…"}`), kept with the version the change makes.
    #[serde(default)]
    pub metadata: Option<Map<String, Value>>,
}

/// Tells an absent key (outer `None`, via `default`) from an explicit `null` (`Some(None)`).
fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> std::result::Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

impl RecordInput {
    /// Parses a request body; `context` names where it came from in errors.
    pub fn from_json(value: Value, context: &str) -> Result<RecordInput> {
        serde_json::from_value(value).map_err(|e| Error::json(context, e))
    }

    /// Takes the body's `metadata` out, checked: at most [`MAX_METADATA_BYTES`] as JSON, the
    /// keys the server sets ([`SERVER_METADATA_KEYS`]) dropped.
    pub fn take_metadata(&mut self) -> Result<Map<String, Value>> {
        let mut metadata = self.metadata.take().unwrap_or_default();
        for key in SERVER_METADATA_KEYS {
            metadata.remove(key);
        }
        let size = Value::Object(metadata.clone()).to_string().len();
        if size > MAX_METADATA_BYTES {
            return Err(Error::invalid_field(
                "metadata",
                format!("is {size} bytes as JSON, over the limit of {MAX_METADATA_BYTES}"),
                None,
            ));
        }
        Ok(metadata)
    }

    /// `actor` saying this body's `metadata` of the change (taken out of the body).
    pub fn actor_saying(&mut self, actor: &Actor) -> Result<Actor> {
        Ok(actor.with_metadata(self.take_metadata()?))
    }
}

pub const PRIVACY_LEVELS: [&str; 3] = ["account", "team", "private"];

/// The columns of a record, in the order [`record_columns`] selects them and [`record_from_row`]
/// reads them.
const RECORD_COLUMNS: [&str; 20] = [
    "id",
    "module_id",
    "display_name",
    "fields",
    "label_ids",
    "type_ids",
    "privacy_level",
    "description_html",
    "external_id",
    "owner_id",
    "created_at",
    "updated_at",
    "created_by_user_id",
    "created_by_display_name",
    "updated_by_user_id",
    "updated_by_display_name",
    "version",
    "deleted_at",
    "created_by_job",
    "updated_by_job",
];

/// The columns every record query selects, in the order [`record_from_row`] reads them (the JSON
/// columns as text on either store).
pub(crate) fn record_columns(dialect: Dialect) -> String {
    RECORD_COLUMNS
        .iter()
        .map(|name| match *name {
            "fields" | "label_ids" | "type_ids" => {
                format!("{} AS {name}", dialect.json_column(&format!("r.{name}")))
            }
            _ => format!("r.{name}"),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// A record from a row of [`record_columns`], from sqlx or from the raw SQLite connection.
///
/// The columns are read by position from where `id` stands: one name lookup per row instead of
/// twenty (the lookups were 7 % of an upsert's CPU, which loads every record it matches).
pub(crate) fn record_from_row(row: &impl RowValues, module_slug: &str) -> Result<Record> {
    let base = row.column_index("id")?;
    let at = |n: usize| base + n;
    let opt_text = |n: usize| -> Result<Option<String>> {
        Ok(RowValues::text(row, at(n))?.map(str::to_string))
    };
    let null = |n: usize| Error::corrupt(format!("records.{} is NULL", RECORD_COLUMNS[n]));
    let text = |n: usize| -> Result<String> { opt_text(n)?.ok_or_else(|| null(n)) };
    let opt_int = |n: usize| -> Result<Option<i64>> { RowValues::int(row, at(n)) };
    let int = |n: usize| -> Result<i64> { opt_int(n)?.ok_or_else(|| null(n)) };
    let json_text =
        |n: usize| -> Result<&str> { RowValues::text(row, at(n))?.ok_or_else(|| null(n)) };
    Ok(Record {
        id: text(0)?,
        module_id: text(1)?,
        module_slug: module_slug.to_string(),
        display_name: text(2)?,
        fields: parse_stored_json(json_text(3)?)?,
        label_ids: parse_stored_json(json_text(4)?)?,
        type_ids: parse_stored_json(json_text(5)?)?,
        privacy_level: text(6)?,
        description_html: opt_text(7)?,
        external_id: opt_text(8)?,
        owner_id: opt_text(9)?,
        created_date_time: format_micros(int(10)?),
        updated_date_time: format_micros(int(11)?),
        created_by_user_id: opt_text(12)?,
        created_by_display_name: opt_text(13)?,
        updated_by_user_id: opt_text(14)?,
        updated_by_display_name: opt_text(15)?,
        version: int(16)?,
        deleted_date_time: opt_int(17)?.map(format_micros),
        imported_by: ImportProvenance::of(opt_text(18)?, opt_text(19)?),
    })
}

pub(crate) fn parse_stored_json<T: serde::de::DeserializeOwned>(text: &str) -> Result<T> {
    serde_json::from_str(text)
        .map_err(|e| Error::corrupt(format!("stored JSON does not parse: {e}")))
}
