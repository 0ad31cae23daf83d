//! Export columns: what a request's `columns` and `columnLabels` name, resolved against a module,
//! and the typed cells each record gives for them.
//!
//! In: column keys (field slugs, core fields such as `displayName`, `owner`, `createdDateTime`,
//! and parts such as `address.city`, `phone.mobile`, `account.id`), labels, and a [`Layout`].
//! Out: [`Column`]s with a header label and a [`ValueKind`], and [`Cell`]s per record.
//! Guarantees: every key is checked against the module before anything runs; in the flat layout
//! (CSV, Parquet) a multi-part value becomes one column per part, labelled so that the import's
//! mapping suggestions map it back (`Address City`, `Phone (Mobile)`).

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use serde_json::Value;

use crate::error::{Error, Result};
use crate::records::Record;
use crate::schema::value::display_text;
use crate::schema::{ADDRESS_PARTS, FieldDef, FieldType, Module};

/// How values of a column are typed (Parquet column types; alignment and formats elsewhere).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ValueKind {
    Text,
    Number,
    Integer,
    Boolean,
    Date,
    DateTime,
}

/// One value of one record in one column.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Empty,
    Text(String),
    Number(f64),
    Integer(i64),
    Boolean(bool),
    Date(NaiveDate),
    DateTime(DateTime<Utc>),
}

/// Whether multi-part values are split into one column per part.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// One column per address part and per phone type: files that re-import (CSV, Parquet).
    Flat,
    /// One column per field, multi-part values joined: tables for people (PDF).
    Compact,
}

/// An output column.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Column {
    /// The key it was asked by, with its part: `email`, `address.city`, `phone.mobile`.
    pub key: String,
    /// The header text.
    pub label: String,
    pub kind: ValueKind,
    #[serde(skip)]
    pub(crate) source: Source,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Source {
    Core(Core),
    Field { slug: String, part: Part },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Core {
    Id,
    DisplayName,
    ExternalId,
    PrivacyLevel,
    Version,
    CreatedBy,
    UpdatedBy,
    CreatedByUserId,
    UpdatedByUserId,
    CreatedDateTime,
    UpdatedDateTime,
    LabelIds,
    TypeIds,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Part {
    Whole,
    Address(&'static str),
    Phone(String),
    /// The display name of the referenced record: the n-th joined reference.
    ReferenceName(usize),
    ReferenceId,
}

/// Header text of the address parts, in [`ADDRESS_PARTS`] order: `Address Street 2` is what the
/// import's suggestions read as the `street2` part.
const ADDRESS_PART_LABELS: [&str; 6] = ["Street", "Street 2", "City", "State", "Zip", "Country"];

/// Separator of several values in one cell; the import splits phones and multi-select options
/// on it.
pub const MULTI_VALUE_SEPARATOR: &str = "; ";

/// The columns of an export, resolved against a module.
#[derive(Debug, Clone)]
pub struct ColumnSet {
    pub columns: Vec<Column>,
    /// Reference fields whose target's display name is selected, in join order.
    pub(crate) joined_references: Vec<String>,
}

/// The core fields a column key may name, with their default labels. `owner` is the record's
/// creator: the store has no separate owner.
fn core_of(key: &str) -> Option<(Core, &'static str)> {
    Some(match key {
        "id" => (Core::Id, "ID"),
        "displayName" | "name" => (Core::DisplayName, "Name"),
        "externalId" => (Core::ExternalId, "External ID"),
        "privacyLevel" => (Core::PrivacyLevel, "Privacy level"),
        "version" => (Core::Version, "Version"),
        "owner" => (Core::CreatedBy, "Record owner"),
        "createdBy" => (Core::CreatedBy, "Created by"),
        "updatedBy" => (Core::UpdatedBy, "Updated by"),
        "createdByUserId" => (Core::CreatedByUserId, "Created by user ID"),
        "updatedByUserId" => (Core::UpdatedByUserId, "Updated by user ID"),
        "createdDateTime" | "createdAt" | "created_at" => (Core::CreatedDateTime, "Created"),
        "updatedDateTime" | "updatedAt" | "updated_at" => (Core::UpdatedDateTime, "Updated"),
        "labelIds" => (Core::LabelIds, "Labels"),
        "typeIds" => (Core::TypeIds, "Types"),
        _ => return None,
    })
}

const CORE_KEYS: &str = "id, displayName, externalId, privacyLevel, version, owner, createdBy, \
                         updatedBy, createdByUserId, updatedByUserId, createdDateTime, \
                         updatedDateTime, labelIds, typeIds";

/// The columns when a request names none: the record's name, every field of the module (in
/// module order), its owner and its dates. The spec's default is "name, owner, dates"; the
/// fields are added because an export without them can neither be read for its data nor be
/// imported back.
pub fn default_keys(module: &Module) -> Vec<String> {
    let mut keys = Vec::with_capacity(module.def.fields.len() + 4);
    // A module with a `name` field shows it as its name already; a second "Name" column would
    // only make the header ambiguous on re-import.
    if module.field("name").is_none() {
        keys.push("displayName".to_string());
    }
    keys.extend(module.def.fields.iter().map(|f| f.slug.clone()));
    keys.extend(["owner", "createdDateTime", "updatedDateTime"].map(String::from));
    keys
}

impl ColumnSet {
    /// Resolves `keys` (or the defaults) against the module. `labels` maps a key to its header;
    /// a label given for a multi-part field prefixes its part columns.
    pub fn resolve(
        module: &Module,
        keys: Option<&[String]>,
        labels: &BTreeMap<String, String>,
        layout: Layout,
    ) -> Result<ColumnSet> {
        let keys = match keys {
            Some([]) => {
                return Err(Error::invalid_field(
                    "columns",
                    "must name at least one column (leave it out for the defaults)",
                    None,
                ));
            }
            Some(keys) => keys.to_vec(),
            None => default_keys(module),
        };
        for key in labels.keys() {
            if !keys
                .iter()
                .any(|k| k == key || key_base(key) == key_base(k))
            {
                return Err(Error::invalid_field(
                    "columnLabels",
                    format!("'{key}' is not one of the exported columns"),
                    None,
                ));
            }
        }
        let mut set = ColumnSet {
            columns: Vec::new(),
            joined_references: Vec::new(),
        };
        for key in &keys {
            set.push_key(module, key.trim(), labels, layout)?;
        }
        Ok(set)
    }

    fn push_key(
        &mut self,
        module: &Module,
        key: &str,
        labels: &BTreeMap<String, String>,
        layout: Layout,
    ) -> Result<()> {
        let (base, part) = match key.split_once('.') {
            Some((base, part)) => (base, Some(part)),
            None => (key, None),
        };
        let Some(field) = module.field(base) else {
            if part.is_none()
                && let Some((core, default_label)) = core_of(key)
            {
                let kind = match core {
                    Core::Version => ValueKind::Integer,
                    Core::CreatedDateTime | Core::UpdatedDateTime => ValueKind::DateTime,
                    _ => ValueKind::Text,
                };
                let label = labels.get(key).cloned().unwrap_or_else(|| {
                    // The display name is labelled "Name" unless a field already is.
                    if core == Core::DisplayName
                        && module
                            .def
                            .fields
                            .iter()
                            .any(|f| f.label.eq_ignore_ascii_case("name"))
                    {
                        "Display name".to_string()
                    } else {
                        default_label.to_string()
                    }
                });
                self.columns.push(Column {
                    key: key.to_string(),
                    label,
                    kind,
                    source: Source::Core(core),
                });
                return Ok(());
            }
            let fields: Vec<&str> = module.def.fields.iter().map(|f| f.slug.as_str()).collect();
            return Err(Error::invalid_field(
                "columns",
                format!(
                    "unknown column '{key}' (fields of '{}': {}; core fields: {CORE_KEYS})",
                    module.slug(),
                    fields.join(", "),
                ),
                Some(Value::String(key.to_string())),
            ));
        };
        let base_label = labels
            .get(base)
            .cloned()
            .unwrap_or_else(|| field.label.clone());
        let wants_name = field.field_type == FieldType::Reference
            && part.is_none_or(|p| p.eq_ignore_ascii_case("name"));
        let join = if wants_name {
            self.join_for(&field.slug)
        } else {
            0
        };
        let mut push = |key: String, label: String, kind: ValueKind, part: Part| {
            let label = labels.get(&key).cloned().unwrap_or(label);
            self.columns.push(Column {
                key,
                label,
                kind,
                source: Source::Field {
                    slug: field.slug.clone(),
                    part,
                },
            });
        };
        match (field.field_type, part) {
            (FieldType::Address, None) if layout == Layout::Flat => {
                for (name, label) in ADDRESS_PARTS.iter().zip(ADDRESS_PART_LABELS) {
                    push(
                        format!("{base}.{name}"),
                        format!("{base_label} {label}"),
                        ValueKind::Text,
                        Part::Address(name),
                    );
                }
            }
            (FieldType::Address, Some(p)) => {
                let (name, label) = ADDRESS_PARTS
                    .iter()
                    .zip(ADDRESS_PART_LABELS)
                    .find(|(name, _)| name.eq_ignore_ascii_case(p))
                    .ok_or_else(|| {
                        bad_part(key, &format!("address parts: {}", ADDRESS_PARTS.join(", ")))
                    })?;
                push(
                    key.to_string(),
                    format!("{base_label} {label}"),
                    ValueKind::Text,
                    Part::Address(name),
                );
            }
            (FieldType::Phone, None) if layout == Layout::Flat => {
                for kind in field.phone_types() {
                    push(
                        format!("{base}.{}", kind.to_lowercase()),
                        format!("{base_label} ({kind})"),
                        ValueKind::Text,
                        Part::Phone(kind.to_string()),
                    );
                }
            }
            (FieldType::Phone, Some(p)) => {
                let types = field.phone_types();
                let kind = types
                    .iter()
                    .find(|t| t.eq_ignore_ascii_case(p))
                    .ok_or_else(|| bad_part(key, &format!("phone types: {}", types.join(", "))))?;
                push(
                    key.to_string(),
                    format!("{base_label} ({kind})"),
                    ValueKind::Text,
                    Part::Phone(kind.to_string()),
                );
            }
            (FieldType::Reference, None) => {
                push(
                    key.to_string(),
                    base_label,
                    ValueKind::Text,
                    Part::ReferenceName(join),
                );
            }
            (FieldType::Reference, Some(p)) if p.eq_ignore_ascii_case("name") => {
                push(
                    key.to_string(),
                    base_label,
                    ValueKind::Text,
                    Part::ReferenceName(join),
                );
            }
            (FieldType::Reference, Some(p)) if p.eq_ignore_ascii_case("id") => {
                push(
                    key.to_string(),
                    format!("{base_label} ID"),
                    ValueKind::Text,
                    Part::ReferenceId,
                );
            }
            (FieldType::Reference, Some(_)) => {
                return Err(bad_part(key, "reference parts: name, id"));
            }
            (_, Some(_)) => {
                return Err(bad_part(
                    key,
                    "only address, phone and reference fields have parts",
                ));
            }
            (field_type, None) => push(
                key.to_string(),
                base_label,
                kind_of(field_type),
                Part::Whole,
            ),
        }
        Ok(())
    }

    fn join_for(&mut self, slug: &str) -> usize {
        match self.joined_references.iter().position(|s| s == slug) {
            Some(i) => i,
            None => {
                self.joined_references.push(slug.to_string());
                self.joined_references.len() - 1
            }
        }
    }

    /// The cells of one record; `reference_names` holds the display names of the joined
    /// references, in join order.
    pub fn cells(
        &self,
        module: &Module,
        record: &Record,
        reference_names: &[Option<String>],
    ) -> Vec<Cell> {
        self.columns
            .iter()
            .map(|c| cell_of(module, c, record, reference_names))
            .collect()
    }
}

fn key_base(key: &str) -> &str {
    key.split_once('.').map_or(key, |(base, _)| base)
}

fn bad_part(key: &str, expected: &str) -> Error {
    Error::invalid_field(
        "columns",
        format!("unknown column '{key}' ({expected})"),
        Some(Value::String(key.to_string())),
    )
}

fn kind_of(field_type: FieldType) -> ValueKind {
    match field_type {
        FieldType::Number | FieldType::Currency => ValueKind::Number,
        FieldType::Boolean => ValueKind::Boolean,
        FieldType::Date => ValueKind::Date,
        FieldType::Datetime => ValueKind::DateTime,
        _ => ValueKind::Text,
    }
}

fn text_cell(text: String) -> Cell {
    if text.is_empty() {
        Cell::Empty
    } else {
        Cell::Text(text)
    }
}

fn opt_text(text: &Option<String>) -> Cell {
    text.clone().map_or(Cell::Empty, text_cell)
}

pub(crate) fn datetime_cell(text: &str) -> Cell {
    DateTime::parse_from_rfc3339(text)
        .map(|t| Cell::DateTime(t.with_timezone(&Utc)))
        .unwrap_or_else(|_| text_cell(text.to_string()))
}

/// Several values in one cell, each once, in stored order.
fn joined<'a>(values: impl Iterator<Item = &'a Value>) -> Cell {
    let mut out = String::new();
    for v in values {
        let text = display_text(v);
        if !text.is_empty() {
            if !out.is_empty() {
                out.push_str(MULTI_VALUE_SEPARATOR);
            }
            out.push_str(&text);
        }
    }
    text_cell(out)
}

fn cell_of(module: &Module, column: &Column, record: &Record, refs: &[Option<String>]) -> Cell {
    match &column.source {
        Source::Core(core) => match core {
            Core::Id => Cell::Text(record.id.clone()),
            Core::DisplayName => text_cell(record.display_name.clone()),
            Core::ExternalId => opt_text(&record.external_id),
            Core::PrivacyLevel => Cell::Text(record.privacy_level.clone()),
            Core::Version => Cell::Integer(record.version),
            Core::CreatedBy => opt_text(&record.created_by_display_name),
            Core::UpdatedBy => opt_text(&record.updated_by_display_name),
            Core::CreatedByUserId => opt_text(&record.created_by_user_id),
            Core::UpdatedByUserId => opt_text(&record.updated_by_user_id),
            Core::CreatedDateTime => datetime_cell(&record.created_date_time),
            Core::UpdatedDateTime => datetime_cell(&record.updated_date_time),
            Core::LabelIds => text_cell(record.label_ids.join(MULTI_VALUE_SEPARATOR)),
            Core::TypeIds => text_cell(record.type_ids.join(MULTI_VALUE_SEPARATOR)),
        },
        Source::Field { slug, part } => {
            let Some(stored) = record.fields.get(slug).filter(|v| !v.is_null()) else {
                return Cell::Empty;
            };
            let field = module.field(slug);
            field_cell(field, part, stored, refs)
        }
    }
}

pub(crate) fn field_cell(
    field: Option<&FieldDef>,
    part: &Part,
    stored: &Value,
    refs: &[Option<String>],
) -> Cell {
    match part {
        Part::Address(name) => match stored.get(*name) {
            Some(v) => text_cell(display_text(v)),
            None => Cell::Empty,
        },
        Part::Phone(kind) => match stored {
            Value::Array(items) => joined(items.iter().filter_map(|item| {
                let matches = item
                    .get("type")
                    .and_then(Value::as_str)
                    .is_some_and(|t| t.eq_ignore_ascii_case(kind));
                if matches { item.get("number") } else { None }
            })),
            _ => Cell::Empty,
        },
        // A reference whose target is gone still shows what it points at.
        Part::ReferenceName(join) => match refs.get(*join) {
            Some(Some(name)) => text_cell(name.clone()),
            _ => text_cell(display_text(stored)),
        },
        Part::ReferenceId => text_cell(display_text(stored)),
        Part::Whole => {
            let field_type = field.map_or(FieldType::Text, |f| f.field_type);
            match (field_type, stored) {
                (FieldType::Number | FieldType::Currency, Value::Number(n)) => {
                    n.as_f64().map_or(Cell::Empty, Cell::Number)
                }
                (FieldType::Boolean, Value::Bool(b)) => Cell::Boolean(*b),
                (FieldType::Date, Value::String(s)) => NaiveDate::parse_from_str(s, "%Y-%m-%d")
                    .map(Cell::Date)
                    .unwrap_or_else(|_| text_cell(s.clone())),
                (FieldType::Datetime, Value::String(s)) => datetime_cell(s),
                (FieldType::Phone | FieldType::MultiSelect, Value::Array(items)) => {
                    joined(items.iter())
                }
                (_, v) => text_cell(display_text(v)),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn contacts() -> Module {
        Module::from_test_json(json!({
            "slug": "contacts",
            "name": "Contacts",
            "fields": [
                {"slug": "email", "label": "Email", "type": "email"},
                {"slug": "phone", "label": "Phone", "type": "phone", "valueTypes": ["Mobile", "Work"]},
                {"slug": "address", "label": "Address", "type": "address"},
                {"slug": "account", "label": "Account", "type": "reference", "target": "accounts"},
                {"slug": "deal_value", "label": "Deal value", "type": "currency"},
                {"slug": "tags", "label": "Tags", "type": "multi_select", "options": ["a", "b"]}
            ]
        }))
    }

    fn labels(set: &ColumnSet) -> Vec<&str> {
        set.columns.iter().map(|c| c.label.as_str()).collect()
    }

    #[test]
    fn flat_layout_splits_addresses_and_phones() {
        let m = contacts();
        let keys: Vec<String> = ["phone", "address", "account", "account.id"]
            .map(String::from)
            .to_vec();
        let set = ColumnSet::resolve(&m, Some(&keys), &BTreeMap::new(), Layout::Flat).unwrap();
        assert_eq!(
            labels(&set),
            [
                "Phone (Mobile)",
                "Phone (Work)",
                "Address Street",
                "Address Street 2",
                "Address City",
                "Address State",
                "Address Zip",
                "Address Country",
                "Account",
                "Account ID"
            ]
        );
        let compact =
            ColumnSet::resolve(&m, Some(&keys), &BTreeMap::new(), Layout::Compact).unwrap();
        assert_eq!(
            labels(&compact),
            ["Phone", "Address", "Account", "Account ID"]
        );
    }

    #[test]
    fn labels_apply_to_keys_and_prefix_parts() {
        let m = contacts();
        let keys: Vec<String> = ["email", "address", "displayName"]
            .map(String::from)
            .to_vec();
        let labels_in = BTreeMap::from([
            ("email".to_string(), "E-mail".to_string()),
            ("address".to_string(), "Home".to_string()),
            ("address.zip".to_string(), "Postcode".to_string()),
        ]);
        let set = ColumnSet::resolve(&m, Some(&keys), &labels_in, Layout::Flat).unwrap();
        let got = labels(&set);
        assert_eq!(got[0], "E-mail");
        assert_eq!(got[1], "Home Street");
        assert_eq!(got[5], "Postcode");
        assert_eq!(got[7], "Name");
    }

    #[test]
    fn unknown_keys_and_parts_are_validation_errors() {
        let m = contacts();
        for bad in [
            "nope",
            "address.planet",
            "phone.fax",
            "email.x",
            "account.zip",
        ] {
            let keys = vec![bad.to_string()];
            let err =
                ColumnSet::resolve(&m, Some(&keys), &BTreeMap::new(), Layout::Flat).unwrap_err();
            assert_eq!(err.code(), "validation_error", "{bad}");
        }
        let keys = vec!["email".to_string()];
        let stray = BTreeMap::from([("phone".to_string(), "P".to_string())]);
        assert!(ColumnSet::resolve(&m, Some(&keys), &stray, Layout::Flat).is_err());
    }

    #[test]
    fn cells_are_typed_and_flattened() {
        let m = contacts();
        let keys: Vec<String> = [
            "phone.mobile",
            "address.city",
            "account",
            "deal_value",
            "tags",
        ]
        .map(String::from)
        .to_vec();
        let set = ColumnSet::resolve(&m, Some(&keys), &BTreeMap::new(), Layout::Flat).unwrap();
        let record = Record {
            id: "rec_1".into(),
            module_id: "mod_1".into(),
            module_slug: "contacts".into(),
            display_name: "Ada".into(),
            fields: json!({
                "phone": [{"number": "+1", "type": "Mobile"}, {"number": "+2", "type": "Work"}, {"number": "+3", "type": "Mobile"}],
                "address": {"city": "Zürich"},
                "account": "rec_acme",
                "deal_value": 75000,
                "tags": ["a", "b"]
            })
            .as_object()
            .unwrap()
            .clone(),
            label_ids: vec![],
            type_ids: vec![],
            privacy_level: "account".into(),
            description_html: None,
            external_id: None,
            owner_id: None,
            created_date_time: "2024-01-15T10:30:00Z".into(),
            updated_date_time: "2024-01-15T10:30:00Z".into(),
            created_by_user_id: None,
            created_by_display_name: None,
            updated_by_user_id: None,
            updated_by_display_name: None,
            version: 1,
            deleted_date_time: None,
            imported_by: None,
        };
        let cells = set.cells(&m, &record, &[Some("Acme".into())]);
        assert_eq!(
            cells,
            [
                Cell::Text("+1; +3".into()),
                Cell::Text("Zürich".into()),
                Cell::Text("Acme".into()),
                Cell::Number(75000.0),
                Cell::Text("a; b".into()),
            ]
        );
        // A reference whose target is gone shows the stored id.
        assert_eq!(
            set.cells(&m, &record, &[None])[2],
            Cell::Text("rec_acme".into())
        );
    }
}
