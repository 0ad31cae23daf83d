//! Modules (schemas): a slug, a name, display-name templates and typed fields.
//!
//! In: module definition JSON files (see `sample-data/modules/`). Out: a checked [`ModuleDef`] whose
//! field slugs are safe identifiers, whose select fields have options and whose references name a
//! target module, and whose locale, if any, is one [`locale`] knows. Typed value parsing lives
//! in [`value`].

pub mod locale;
pub mod registry;
pub mod value;

use std::collections::HashSet;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::error::{Error, Result};

/// The field types a module can declare.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FieldType {
    Text,
    LongText,
    Number,
    Currency,
    Email,
    Phone,
    Url,
    Date,
    Datetime,
    Boolean,
    Select,
    MultiSelect,
    Reference,
    Address,
}

impl FieldType {
    pub fn as_str(self) -> &'static str {
        match self {
            FieldType::Text => "text",
            FieldType::LongText => "long_text",
            FieldType::Number => "number",
            FieldType::Currency => "currency",
            FieldType::Email => "email",
            FieldType::Phone => "phone",
            FieldType::Url => "url",
            FieldType::Date => "date",
            FieldType::Datetime => "datetime",
            FieldType::Boolean => "boolean",
            FieldType::Select => "select",
            FieldType::MultiSelect => "multi_select",
            FieldType::Reference => "reference",
            FieldType::Address => "address",
        }
    }

    /// Numeric types compare as numbers in filters and sorts.
    pub fn is_numeric(self) -> bool {
        matches!(self, FieldType::Number | FieldType::Currency)
    }

    /// Types whose stored value is a JSON array (filters match any element).
    pub fn is_multi_value(self) -> bool {
        matches!(self, FieldType::Phone | FieldType::MultiSelect)
    }

    /// Types whose text goes into the record's search text.
    pub fn is_searchable(self) -> bool {
        matches!(
            self,
            FieldType::Text
                | FieldType::LongText
                | FieldType::Email
                | FieldType::Phone
                | FieldType::Url
                | FieldType::Select
                | FieldType::MultiSelect
                | FieldType::Address
        )
    }
}

/// The parts of an address value, in display order.
pub const ADDRESS_PARTS: [&str; 6] = ["street", "street2", "city", "state", "zip", "country"];

/// The default kinds of a phone value when a field does not list its own.
pub const DEFAULT_PHONE_TYPES: [&str; 4] = ["Mobile", "Work", "Home", "Other"];

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FieldDef {
    pub slug: String,
    pub label: String,
    #[serde(rename = "type")]
    pub field_type: FieldType,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub required: bool,
    /// At most one live record of the module holds a given (normalised) value.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub unique: bool,
    /// Keep a normalised match key for this field so imports can match duplicates on it (email,
    /// phone and unique fields always have one). Set it on fields such as an account's name.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub match_key: bool,
    /// Allowed values of a select or multi_select field.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub options: Vec<String>,
    /// Target module slug of a reference field.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// Kinds of values of a phone field (Mobile, Work, ...).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub value_types: Vec<String>,
}

impl FieldDef {
    /// A plain field of a type, with no flags or options: for probing values of that type.
    pub fn of_type(slug: &str, field_type: FieldType) -> FieldDef {
        FieldDef {
            slug: slug.to_string(),
            label: slug.to_string(),
            field_type,
            required: false,
            unique: false,
            match_key: false,
            options: Vec::new(),
            target: None,
            value_types: Vec::new(),
        }
    }

    /// The kinds a phone value may carry: the field's own list or the defaults.
    pub fn phone_types(&self) -> Vec<&str> {
        if self.value_types.is_empty() {
            DEFAULT_PHONE_TYPES.to_vec()
        } else {
            self.value_types.iter().map(String::as_str).collect()
        }
    }

    /// Whether the store keeps a normalised match key for this field (for unique checks and dedupe).
    pub fn has_match_key(&self) -> bool {
        self.unique
            || self.match_key
            || matches!(self.field_type, FieldType::Email | FieldType::Phone)
    }
}

/// A module as defined in its JSON file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ModuleDef {
    pub slug: String,
    pub name: String,
    /// Templates such as `"{first_name} {last_name}"`, tried in order; the first that renders to a
    /// non-blank string is the record's display name.
    #[serde(default)]
    pub display_name: Vec<String>,
    pub fields: Vec<FieldDef>,
    /// How imports into the module read values (`de-DE`, `en-US`, …; see [`locale`]) when the
    /// import names no locale of its own. None: each file's values decide.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub locale: Option<String>,
}

/// A module as stored: its definition plus the store's id.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Module {
    pub id: String,
    #[serde(flatten)]
    pub def: ModuleDef,
    pub created_date_time: String,
    pub updated_date_time: String,
}

impl Module {
    /// A module that is not in a store (no timestamps): for definitions checked or exported
    /// before they are saved, and for tests.
    pub fn unsaved(id: impl Into<String>, def: ModuleDef) -> Module {
        Module {
            id: id.into(),
            def,
            created_date_time: String::new(),
            updated_date_time: String::new(),
        }
    }

    /// A module from a JSON definition, for unit tests.
    #[cfg(test)]
    pub(crate) fn from_test_json(definition: serde_json::Value) -> Module {
        Module::unsaved(
            "mod_1",
            serde_json::from_value(definition).expect("module definition"),
        )
    }

    pub fn slug(&self) -> &str {
        &self.def.slug
    }

    /// The fields the store keeps normalised match keys for (see [`FieldDef::has_match_key`]).
    pub fn match_key_fields(&self) -> impl Iterator<Item = &FieldDef> {
        self.def.fields.iter().filter(|f| f.has_match_key())
    }

    pub fn field(&self, slug: &str) -> Option<&FieldDef> {
        self.def.fields.iter().find(|f| f.slug == slug)
    }

    /// The field named `slug`, or a validation error that says which fields exist.
    pub fn require_field(&self, slug: &str) -> Result<&FieldDef> {
        self.field(slug).ok_or_else(|| {
            let known: Vec<&str> = self.def.fields.iter().map(|f| f.slug.as_str()).collect();
            Error::invalid_field(
                slug,
                format!(
                    "unknown field of module '{}' (fields: {})",
                    self.def.slug,
                    known.join(", ")
                ),
                None,
            )
        })
    }

    /// Renders the display name from the module's templates, falling back to the first non-empty
    /// text-like field, so a record always has a name to show.
    pub fn render_display_name(&self, fields: &Map<String, Value>) -> String {
        for template in &self.def.display_name {
            let rendered = render_template(template, fields);
            if !rendered.is_empty() {
                return rendered;
            }
        }
        self.def
            .fields
            .iter()
            .filter(|f| f.field_type.is_searchable())
            .find_map(|f| {
                let text = value::display_text(fields.get(&f.slug)?);
                (!text.is_empty()).then_some(text)
            })
            .unwrap_or_default()
    }
}

/// Replaces `{slug}` placeholders with the fields' display text and collapses the blanks left by
/// empty fields.
fn render_template(template: &str, fields: &Map<String, Value>) -> String {
    let mut out = String::new();
    let mut rest = template;
    while let Some(start) = rest.find('{') {
        out.push_str(&rest[..start]);
        let after = &rest[start + 1..];
        match after.find('}') {
            Some(end) => {
                if let Some(v) = fields.get(&after[..end]) {
                    out.push_str(&value::display_text(v));
                }
                rest = &after[end + 1..];
            }
            None => {
                out.push_str(&rest[start..]);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Slugs are lower snake case so that they can never collide with the camelCase core fields and
/// are safe inside a JSON path.
pub fn is_valid_slug(slug: &str) -> bool {
    let mut chars = slug.chars();
    matches!(chars.next(), Some('a'..='z'))
        && chars.all(|c| matches!(c, 'a'..='z' | '0'..='9' | '_'))
        && slug.len() <= 63
}

impl ModuleDef {
    /// Parses and checks a module definition; `source` names the file in errors.
    pub fn from_json(text: &str, source: &str) -> Result<ModuleDef> {
        let def: ModuleDef = serde_json::from_str(text).map_err(|e| Error::json(source, e))?;
        def.check().map_err(|e| match e {
            Error::Validation { message, fields } => Error::Validation {
                message: format!("{source}: {message}"),
                fields,
            },
            other => other,
        })?;
        Ok(def)
    }

    /// Checks slugs, duplicates, options and reference targets.
    pub fn check(&self) -> Result<()> {
        if !is_valid_slug(&self.slug) {
            return Err(Error::validation(format!(
                "module slug '{}' must be lower snake case (a-z, 0-9, _), starting with a letter",
                self.slug
            )));
        }
        if self.name.trim().is_empty() {
            return Err(Error::validation(format!(
                "module '{}' needs a name",
                self.slug
            )));
        }
        if let Some(tag) = &self.locale {
            tag.parse::<locale::Locale>()?;
        }
        let mut seen = HashSet::new();
        for field in &self.fields {
            if !is_valid_slug(&field.slug) {
                return Err(Error::invalid_field(
                    &field.slug,
                    "field slug must be lower snake case (a-z, 0-9, _), starting with a letter",
                    None,
                ));
            }
            if !seen.insert(field.slug.as_str()) {
                return Err(Error::invalid_field(
                    &field.slug,
                    "field is defined twice",
                    None,
                ));
            }
            match field.field_type {
                FieldType::Select | FieldType::MultiSelect if field.options.is_empty() => {
                    return Err(Error::invalid_field(
                        &field.slug,
                        "select fields need a non-empty \"options\" list",
                        None,
                    ));
                }
                FieldType::Reference if field.target.as_deref().is_none_or(str::is_empty) => {
                    return Err(Error::invalid_field(
                        &field.slug,
                        "reference fields need a \"target\" module slug",
                        None,
                    ));
                }
                _ => {}
            }
        }
        for template in &self.display_name {
            let mut rest = template.as_str();
            while let Some(start) = rest.find('{') {
                let after = &rest[start + 1..];
                let Some(end) = after.find('}') else { break };
                let slug = &after[..end];
                if !seen.contains(slug) {
                    return Err(Error::validation(format!(
                        "display name template '{template}' names unknown field '{slug}'"
                    )));
                }
                rest = &after[end + 1..];
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn template_collapses_missing_parts() {
        let fields = json!({"first_name": "Ada", "email": "ada@example.com"});
        let fields = fields.as_object().unwrap();
        assert_eq!(render_template("{first_name} {last_name}", fields), "Ada");
        assert_eq!(render_template("{last_name}", fields), "");
    }

    #[test]
    fn slugs_are_checked() {
        assert!(is_valid_slug("first_name"));
        assert!(!is_valid_slug("firstName"));
        assert!(!is_valid_slug("1st"));
        assert!(!is_valid_slug("a'b"));
    }
}
