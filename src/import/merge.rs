//! Merge: what an update-strategy import does to a record it matched (spec 002's merge modes).
//!
//! Only the fields the import writes (mapped columns and static values) take part; every other
//! field of the record keeps its value in every mode.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::import::map::{MappedRow, MappingPlan};
use crate::records::write::Draft;
use crate::schema::Module;

/// Spec 002's `duplicateStrategy`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DuplicateStrategy {
    /// Rows that match an existing record are skipped.
    #[default]
    Skip,
    /// Rows that match update the record, per the merge mode.
    Update,
    /// Every row creates a record (unique fields still refuse a second holder).
    Create,
}

impl DuplicateStrategy {
    pub fn as_str(self) -> &'static str {
        match self {
            DuplicateStrategy::Skip => "skip",
            DuplicateStrategy::Update => "update",
            DuplicateStrategy::Create => "create",
        }
    }
}

/// Spec 002's `mergeMode`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MergeMode {
    /// Only fields that are empty on the record take the import's value.
    FillEmpty,
    /// Every imported field replaces the record's, an empty cell clearing it.
    Overwrite,
    /// Imported values replace the record's; an empty cell keeps what the record has.
    #[default]
    PreferImport,
}

impl MergeMode {
    pub fn as_str(self) -> &'static str {
        match self {
            MergeMode::FillEmpty => "fill_empty",
            MergeMode::Overwrite => "overwrite",
            MergeMode::PreferImport => "prefer_import",
        }
    }

    /// The value a field ends with, given the record's and the import's (`None` = empty).
    pub fn pick<'a>(
        self,
        existing: Option<&'a Value>,
        imported: Option<&'a Value>,
    ) -> Option<&'a Value> {
        match self {
            MergeMode::FillEmpty => existing.or(imported),
            MergeMode::Overwrite => imported,
            MergeMode::PreferImport => imported.or(existing),
        }
    }
}

/// The record's fields after merging `imported` into `existing` for the `written` fields.
pub fn merge_fields(
    existing: &Map<String, Value>,
    imported: &Map<String, Value>,
    written: &[String],
    mode: MergeMode,
) -> Map<String, Value> {
    let mut merged = existing.clone();
    for slug in written {
        match mode.pick(existing.get(slug), imported.get(slug)) {
            Some(v) => {
                if existing.get(slug) != Some(v) {
                    merged.insert(slug.clone(), v.clone());
                }
            }
            None => {
                merged.remove(slug);
            }
        }
    }
    merged
}

/// The record `current` after merging `row` into it by `mode`: the fields as [`merge_fields`]
/// says, and the display name the row gives (`overwrite`, `prefer_import`), or rendered again
/// from the merged fields where the record's name was the rendered one.
pub(crate) fn merged_draft(
    module: &Module,
    plan: &MappingPlan,
    written: &[String],
    mode: MergeMode,
    current: &Draft,
    row: &MappedRow,
) -> Draft {
    let fields = merge_fields(&current.fields, &row.fields, written, mode);
    let generated = current.display_name == module.render_display_name(&current.fields);
    let display_name = match (&row.display_name, mode) {
        (Some(name), MergeMode::Overwrite | MergeMode::PreferImport) => name.clone(),
        (None, MergeMode::Overwrite) if plan.maps_display_name() => {
            module.render_display_name(&fields)
        }
        _ if generated => module.render_display_name(&fields),
        _ => current.display_name.clone(),
    };
    Draft {
        display_name,
        fields,
        ..current.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn map(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap()
    }

    #[test]
    fn modes_follow_spec_002() {
        let existing = map(json!({"a": 1, "b": 2, "untouched": 9}));
        let imported = map(json!({"a": 10, "c": 30}));
        let written = vec!["a".to_string(), "b".to_string(), "c".to_string()];
        assert_eq!(
            merge_fields(&existing, &imported, &written, MergeMode::FillEmpty),
            map(json!({"a": 1, "b": 2, "c": 30, "untouched": 9}))
        );
        assert_eq!(
            merge_fields(&existing, &imported, &written, MergeMode::Overwrite),
            map(json!({"a": 10, "c": 30, "untouched": 9}))
        );
        assert_eq!(
            merge_fields(&existing, &imported, &written, MergeMode::PreferImport),
            map(json!({"a": 10, "b": 2, "c": 30, "untouched": 9}))
        );
    }

    #[test]
    fn options_parse_as_the_spec_spells_them() {
        let s: DuplicateStrategy = serde_json::from_value(json!("update")).unwrap();
        assert_eq!(s, DuplicateStrategy::Update);
        let m: MergeMode = serde_json::from_value(json!("fill_empty")).unwrap();
        assert_eq!(m, MergeMode::FillEmpty);
        assert_eq!(MergeMode::default(), MergeMode::PreferImport);
        assert_eq!(DuplicateStrategy::default(), DuplicateStrategy::Skip);
    }
}
