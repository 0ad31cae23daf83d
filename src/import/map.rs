//! Map: a source row (strings) in, typed field values out, as spec 002's
//! `columnMapping` and `staticValues` say.
//!
//! A [`MappingPlan`] is checked once against the file's columns and the module (an unknown column,
//! field, value type or address part is a request error, before any row is read); applying it to a
//! row is then pure and cheap, so the pipeline runs it in parallel. Several columns may feed one
//! field: phone columns each with their `valueType`, address columns each with their
//! `addressPart`, multi-select columns as one list, and any other field as the non-empty cells
//! joined by a space (e.g. "First" + "Last" into `displayName`). A select or multi-select
//! column may carry a `valueMap` from the file's own words to the field's options ("Closed Won"
//! → customer); a cell it does not name is read as it is, so a value outside the map and the
//! options stays a row error.

use serde_json::{Map, Value};

use crate::error::{FieldError, Result};
use crate::import::mapping::{ColumnMapping, DISPLAY_NAME, normalize_header};
use crate::import::report::{RowError, RowErrorCode};
use crate::import::source::SourceRow;
use crate::schema::value::{self, ValueOptions};
use crate::schema::{ADDRESS_PARTS, FieldType, Module};

/// A row whose cells were read into typed values.
#[derive(Debug, Clone, PartialEq)]
pub struct MappedRow {
    pub row_number: u64,
    /// A display name from a column mapped to `displayName`, if the cell was not empty.
    pub display_name: Option<String>,
    /// Every mapped field with a value (empty cells are absent), plus the static values.
    pub fields: Map<String, Value>,
    /// Values that did not fit their field (those fields are left out of `fields`), and the row's
    /// shape defect if it has one.
    pub errors: Vec<RowError>,
    /// The row does not fit the header (too few or too many cells): it is never imported.
    pub malformed: bool,
}

impl MappedRow {
    /// Whether the row goes on to dedupe and write: never when malformed, and with bad values
    /// only under `skipValidation` (the bad values are left out).
    pub fn importable(&self, skip_validation: bool) -> bool {
        !self.malformed && (self.errors.is_empty() || skip_validation)
    }
}

/// Where a target takes its cells from.
#[derive(Debug, Clone)]
struct ColumnSource {
    index: usize,
    name: String,
    value_type: Option<String>,
    address_part: Option<String>,
    /// Source words (folded as headers are) → the option they stand for.
    value_map: Vec<(String, String)>,
}

#[derive(Debug, Clone)]
struct Target {
    /// `None` for `displayName`, else the index of the field in the module definition.
    field: Option<usize>,
    slug: String,
    columns: Vec<ColumnSource>,
}

/// A column mapping checked against a file's columns and a module, ready to apply to rows.
#[derive(Debug, Clone)]
pub struct MappingPlan {
    module: Module,
    targets: Vec<Target>,
    /// Parsed static values by field slug, applied where the row leaves the field empty.
    static_values: Vec<(String, Value)>,
    options: ValueOptions,
}

impl MappingPlan {
    /// Checks `mappings` against `columns` (the file's header) and the module. Every problem is
    /// reported at once, each naming the mapping entry (`columnMapping[i]`) or static value.
    pub fn new(
        module: &Module,
        columns: &[String],
        mappings: &[ColumnMapping],
        static_values: &Map<String, Value>,
        options: &ValueOptions,
    ) -> Result<MappingPlan> {
        let mut errors = Vec::new();
        let mut targets: Vec<Target> = Vec::new();
        for (i, mapping) in mappings.iter().enumerate() {
            let at = format!("columnMapping[{i}]");
            let Some(slug) = mapping.target_field_slug.as_deref().map(str::trim) else {
                continue;
            };
            if mapping.ignored || slug.is_empty() {
                continue;
            }
            let Some(index) = columns.iter().position(|c| c == &mapping.source_column) else {
                errors.push(FieldError {
                    field: format!("{at}.sourceColumn"),
                    message: format!(
                        "the file has no column '{}' (its columns: {})",
                        mapping.source_column,
                        columns.join(", ")
                    ),
                    value: Some(Value::String(mapping.source_column.clone())),
                });
                continue;
            };
            let field = if slug == DISPLAY_NAME {
                None
            } else {
                match module.def.fields.iter().position(|f| f.slug == slug) {
                    Some(position) => Some(position),
                    None => {
                        errors.push(FieldError {
                            field: format!("{at}.targetFieldSlug"),
                            message: format!("module '{}' has no field '{slug}'", module.slug()),
                            value: Some(Value::String(slug.to_string())),
                        });
                        continue;
                    }
                }
            };
            let field_def = field.map(|position| &module.def.fields[position]);
            let value_type = mapping.value_type.as_deref().map(str::trim);
            let value_type = match (value_type, field_def) {
                (None | Some(""), _) => None,
                (Some(kind), Some(def)) if def.field_type == FieldType::Phone => {
                    match def
                        .phone_types()
                        .iter()
                        .find(|k| k.eq_ignore_ascii_case(kind))
                    {
                        Some(known) => Some(known.to_string()),
                        None => {
                            errors.push(FieldError {
                                field: format!("{at}.valueType"),
                                message: format!(
                                    "'{kind}' is not a kind of {} (expected one of: {})",
                                    def.label,
                                    def.phone_types().join(", ")
                                ),
                                value: Some(Value::String(kind.to_string())),
                            });
                            continue;
                        }
                    }
                }
                (Some(kind), _) => {
                    errors.push(FieldError {
                        field: format!("{at}.valueType"),
                        message: format!("valueType applies to phone fields only, not '{slug}'"),
                        value: Some(Value::String(kind.to_string())),
                    });
                    continue;
                }
            };
            let address_part = mapping.address_part.as_deref().map(str::trim);
            let address_part = match (address_part, field_def) {
                (None | Some(""), _) => None,
                (Some(part), Some(def)) if def.field_type == FieldType::Address => {
                    match ADDRESS_PARTS.iter().find(|p| p.eq_ignore_ascii_case(part)) {
                        Some(known) => Some(known.to_string()),
                        None => {
                            errors.push(FieldError {
                                field: format!("{at}.addressPart"),
                                message: format!(
                                    "'{part}' is not an address part (expected one of: {})",
                                    ADDRESS_PARTS.join(", ")
                                ),
                                value: Some(Value::String(part.to_string())),
                            });
                            continue;
                        }
                    }
                }
                (Some(part), _) => {
                    errors.push(FieldError {
                        field: format!("{at}.addressPart"),
                        message: format!(
                            "addressPart applies to address fields only, not '{slug}'"
                        ),
                        value: Some(Value::String(part.to_string())),
                    });
                    continue;
                }
            };
            let value_map = match (&mapping.value_map, field_def) {
                (None, _) => Vec::new(),
                (Some(map), _) if map.is_empty() => Vec::new(),
                (Some(map), Some(def))
                    if matches!(def.field_type, FieldType::Select | FieldType::MultiSelect) =>
                {
                    match checked_value_map(map, def, &at) {
                        Ok(checked) => checked,
                        Err(mut bad) => {
                            errors.append(&mut bad);
                            continue;
                        }
                    }
                }
                (Some(_), _) => {
                    errors.push(FieldError {
                        field: format!("{at}.valueMap"),
                        message: format!(
                            "valueMap applies to select and multi-select fields only, not '{slug}'"
                        ),
                        value: None,
                    });
                    continue;
                }
            };
            let source = ColumnSource {
                index,
                name: mapping.source_column.clone(),
                value_type,
                address_part,
                value_map,
            };
            match targets.iter_mut().find(|t| t.slug == slug) {
                Some(target) => target.columns.push(source),
                None => targets.push(Target {
                    field,
                    slug: slug.to_string(),
                    columns: vec![source],
                }),
            }
        }
        let mut parsed_statics = Vec::new();
        for (slug, raw) in static_values {
            let at = format!("staticValues.{slug}");
            let Some(def) = module.field(slug) else {
                errors.push(FieldError {
                    field: at,
                    message: format!("module '{}' has no field '{slug}'", module.slug()),
                    value: Some(raw.clone()),
                });
                continue;
            };
            match value::parse_json(def, raw, options) {
                Ok(Some(parsed)) => parsed_statics.push((slug.clone(), parsed)),
                Ok(None) => {}
                Err(e) => errors.push(FieldError {
                    field: at,
                    message: e.0,
                    value: Some(raw.clone()),
                }),
            }
        }
        if !errors.is_empty() {
            return Err(crate::records::fields_error(errors));
        }
        Ok(MappingPlan {
            module: module.clone(),
            targets,
            static_values: parsed_statics,
            options: options.clone(),
        })
    }

    pub fn module(&self) -> &Module {
        &self.module
    }

    /// The fields the import writes (mapped or static), in module order: the fields a merge
    /// considers. Fields the import does not touch keep their values on update.
    pub fn written_fields(&self) -> Vec<String> {
        self.module
            .def
            .fields
            .iter()
            .filter(|f| {
                self.targets.iter().any(|t| t.slug == f.slug)
                    || self.static_values.iter().any(|(slug, _)| slug == &f.slug)
            })
            .map(|f| f.slug.clone())
            .collect()
    }

    pub fn maps_display_name(&self) -> bool {
        self.targets.iter().any(|t| t.field.is_none())
    }

    /// Whether the field gets its value from a column (as opposed to a static value or nothing).
    pub fn is_mapped(&self, slug: &str) -> bool {
        self.targets.iter().any(|t| t.slug == slug)
    }

    /// Reads one row. Never fails: bad cells become [`RowError`]s and stay out of the fields.
    pub fn apply(&self, row: &SourceRow) -> MappedRow {
        let mut mapped = MappedRow {
            row_number: row.row_number,
            display_name: None,
            fields: Map::new(),
            errors: Vec::new(),
            malformed: row.defect.is_some(),
        };
        if let Some(defect) = &row.defect {
            mapped.errors.push(RowError {
                row: row.row_number,
                code: RowErrorCode::MalformedRow,
                field: None,
                column: None,
                value: None,
                error: defect.clone(),
            });
        }
        for target in &self.targets {
            let raw_cell = |source: &ColumnSource| {
                row.cells
                    .get(source.index)
                    .map_or("", |c| unneutralised(c.trim()))
            };
            let cell = |source| through_value_map(source, raw_cell(source));
            let Some(position) = target.field else {
                let name = joined_cells(target, &raw_cell);
                if !name.is_empty() {
                    mapped.display_name = Some(name);
                }
                continue;
            };
            let def = &self.module.def.fields[position];
            let parsed = match (&target.columns[..], def.field_type) {
                ([only], _) if only.value_type.is_none() && only.address_part.is_none() => {
                    value::parse_text(def, cell(only), &self.options)
                }
                (columns, FieldType::Phone) => value::parse_phone_parts(
                    def,
                    columns
                        .iter()
                        .map(|c| (cell(c), c.value_type.as_deref()))
                        .filter(|(number, _)| !number.is_empty()),
                    &self.options,
                ),
                (columns, FieldType::Address) => value::parse_address_parts(
                    columns
                        .iter()
                        .map(|c| {
                            let part = c.address_part.as_deref().unwrap_or(ADDRESS_PARTS[0]);
                            (part, cell(c))
                        })
                        .filter(|(_, text)| !text.is_empty()),
                ),
                (columns, FieldType::MultiSelect) => {
                    let items = columns
                        .iter()
                        .flat_map(|c| {
                            raw_cell(c)
                                .split([',', ';'])
                                .map(|item| through_value_map(c, item.trim()))
                                .filter(|item| !item.is_empty())
                        })
                        .map(|item| Value::String(item.to_string()))
                        .collect();
                    value::parse_json(def, &Value::Array(items), &self.options)
                }
                _ => value::parse_text(def, &joined_cells(target, &raw_cell), &self.options),
            };
            match parsed {
                Ok(Some(v)) => {
                    mapped.fields.insert(target.slug.clone(), v);
                }
                Ok(None) => {}
                Err(e) => {
                    let bad: Vec<&ColumnSource> = target
                        .columns
                        .iter()
                        .filter(|c| !raw_cell(c).is_empty())
                        .collect();
                    mapped.errors.push(RowError {
                        row: row.row_number,
                        code: RowErrorCode::for_field_type(def.field_type),
                        field: Some(target.slug.clone()),
                        column: Some(
                            bad.iter()
                                .map(|c| c.name.as_str())
                                .collect::<Vec<_>>()
                                .join(", "),
                        ),
                        value: Some(
                            bad.iter()
                                .map(|c| raw_cell(c))
                                .collect::<Vec<_>>()
                                .join(" | "),
                        ),
                        error: e.0,
                    });
                }
            }
        }
        for (slug, v) in &self.static_values {
            if !mapped.fields.contains_key(slug) {
                mapped.fields.insert(slug.clone(), v.clone());
            }
        }
        mapped
    }

    /// The required fields no column or static value provides: every row will lack them.
    pub fn unmapped_required(&self) -> Vec<&crate::schema::FieldDef> {
        self.module
            .def
            .fields
            .iter()
            .filter(|f| {
                f.required
                    && !self.is_mapped(&f.slug)
                    && !self.static_values.iter().any(|(slug, _)| slug == &f.slug)
            })
            .collect()
    }

    /// Errors for the required fields a created record would lack.
    pub fn missing_required(&self, row: u64, fields: &Map<String, Value>) -> Vec<RowError> {
        self.module
            .def
            .fields
            .iter()
            .filter(|f| f.required && !fields.contains_key(&f.slug))
            .map(|f| RowError {
                row,
                code: RowErrorCode::RequiredMissing,
                field: Some(f.slug.clone()),
                column: self.targets.iter().find(|t| t.slug == f.slug).map(|t| {
                    t.columns
                        .iter()
                        .map(|c| c.name.clone())
                        .collect::<Vec<_>>()
                        .join(", ")
                }),
                value: None,
                error: format!("Required field \"{}\" is empty", f.label),
            })
            .collect()
    }
}

/// A cell as it was before a spreadsheet-safe export (ours, or any that follows the OWASP advice)
/// put a `'` in front of a leading `=`, `+`, `-`, `@`, tab or CR: the quote is an escape, not
/// data, so `'+33 1 42 68 60 70` imports as the phone number it stands for.
fn unneutralised(cell: &str) -> &str {
    match cell.strip_prefix('\'') {
        Some(rest) if rest.starts_with(['=', '+', '-', '@', '\t', '\r']) => rest,
        _ => cell,
    }
}

/// The option a value map names for a cell (exactly, else with case and accents folded), or the
/// cell as it is.
fn through_value_map<'a>(source: &'a ColumnSource, text: &'a str) -> &'a str {
    if source.value_map.is_empty() || text.is_empty() {
        return text;
    }
    if let Some((_, option)) = source.value_map.iter().find(|(from, _)| from == text) {
        return option;
    }
    let folded = normalize_header(text);
    source
        .value_map
        .iter()
        .find(|(from, _)| normalize_header(from) == folded)
        .map_or(text, |(_, option)| option.as_str())
}

/// A value map checked against the field's options: every target must be one (its spelling in
/// the module is kept).
fn checked_value_map(
    map: &std::collections::BTreeMap<String, String>,
    def: &crate::schema::FieldDef,
    at: &str,
) -> std::result::Result<Vec<(String, String)>, Vec<FieldError>> {
    let mut checked = Vec::with_capacity(map.len());
    let mut errors = Vec::new();
    for (from, to) in map {
        match def
            .options
            .iter()
            .find(|o| o.trim().eq_ignore_ascii_case(to.trim()))
        {
            Some(option) => checked.push((from.trim().to_string(), option.clone())),
            None => errors.push(FieldError {
                field: format!("{at}.valueMap.{from}"),
                message: format!(
                    "'{to}' is not an option of {} (expected one of: {})",
                    def.label,
                    def.options.join(", ")
                ),
                value: Some(Value::String(to.clone())),
            }),
        }
    }
    if errors.is_empty() {
        Ok(checked)
    } else {
        Err(errors)
    }
}

fn joined_cells<'r>(target: &Target, cell: &impl Fn(&ColumnSource) -> &'r str) -> String {
    let mut out = String::new();
    for c in &target.columns {
        let text = cell(c);
        if !text.is_empty() {
            if !out.is_empty() {
                out.push(' ');
            }
            out.push_str(text);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::unneutralised;

    #[test]
    fn formula_escapes_come_off_other_quotes_stay() {
        assert_eq!(unneutralised("'+33 1 42 68 60 70"), "+33 1 42 68 60 70");
        assert_eq!(unneutralised("'=SUM(A1)"), "=SUM(A1)");
        assert_eq!(unneutralised("'-5"), "-5");
        assert_eq!(unneutralised("'twas"), "'twas");
        assert_eq!(unneutralised("O'Brien"), "O'Brien");
        assert_eq!(unneutralised("'"), "'");
    }
}
