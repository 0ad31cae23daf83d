//! Column mapping: the spec's `columnMapping` entries, and suggestions for them.
//!
//! In: a module, the file's column headers, some sample rows and the mappings confirmed in earlier
//! imports (of this module first, then of others). Out: one suggestion per column, with a
//! confidence in 0..1 and, for a select field, a value map from the column's own words to the
//! field's options. Evidence: a mapping confirmed before for the same header; the header read as
//! canonical words (`synonyms`: eight languages, abbreviations, typos) and matched against the
//! concepts of the module's fields (`concepts`); the sample values (`sniff`), which confirm a
//! header, contradict it (dates are never a phone, Mr/Ms is not a job title) or decide alone
//! where a header says nothing. The whole file is then assigned at once (`assign`): each field
//! takes one column, except phones of distinct kinds, address parts of one address and name or
//! street parts that join. Confidence is calibrated: 0.9 and above only when a header names the
//! field outright and the values agree; a column below 0.5 stays unmapped rather than guessed.
//!
//! Here: the types, header normalisation and [`suggest`].

mod assign;
mod concepts;
mod sniff;
mod synonyms;
pub mod value_map;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::schema::FieldType;

pub use assign::suggest;

/// The core field a column can map to besides the module's own fields.
pub const DISPLAY_NAME: &str = "displayName";

/// Suggestions below this confidence are left unmapped.
const MIN_CONFIDENCE: f64 = 0.5;

/// One entry of spec 002's `columnMapping`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ColumnMapping {
    pub source_column: String,
    pub target_field_slug: Option<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub ignored: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address_part: Option<String>,
    /// For a select or multi-select field: the option each of the column's own words stands for
    /// (`{"Closed Won": "customer"}`); a cell the map does not name is read as it is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value_map: Option<BTreeMap<String, String>>,
}

impl From<MappingSuggestion> for ColumnMapping {
    /// A suggestion taken as it is (an unmapped column stays unmapped).
    fn from(s: MappingSuggestion) -> Self {
        ColumnMapping {
            source_column: s.source_column,
            target_field_slug: s.target_field_slug,
            ignored: false,
            value_type: s.value_type,
            address_part: s.address_part,
            value_map: s.value_map.map(|map| {
                map.into_iter()
                    .filter_map(|(source, option)| option.map(|o| (source, o)))
                    .collect()
            }),
        }
    }
}

/// One suggestion of spec 002's suggest-mapping response.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MappingSuggestion {
    pub source_column: String,
    pub target_field_slug: Option<String>,
    pub confidence: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address_part: Option<String>,
    /// For a select column: its distinct sample values (at most [`value_map::MAX_DISTINCT`]),
    /// each with the option it seems to name, or null when unsure.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value_map: Option<BTreeMap<String, Option<String>>>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TargetField {
    pub field_slug: String,
    pub label: String,
    pub data_type: String,
}

/// Spec 002's suggest-mapping response data.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SuggestResult {
    pub suggestions: Vec<MappingSuggestion>,
    pub ai_used: bool,
    pub target_fields: Vec<TargetField>,
}

/// Lower-case words of a header: accents folded, punctuation and camelCase split, so that
/// "E-Mail-Adresse", "emailAddress" and "EMAIL_ADDRESS" compare alike.
pub fn normalize_header(header: &str) -> String {
    let mut out = String::with_capacity(header.len());
    let mut prev_lower = false;
    let chars: Vec<char> = header.trim().chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        // A capital after a small letter starts a word ("emailAddress", "contactID"), unless
        // it is one capital alone at the end of a word, as in an acronym ("KvK").
        let next = chars.get(i + 1);
        let lone_capital = !next.is_some_and(|n| n.is_alphabetic());
        if c.is_uppercase() && prev_lower && !lone_capital {
            out.push(' ');
        }
        prev_lower = c.is_lowercase() || c.is_ascii_digit();
        for lc in c.to_lowercase() {
            match fold_accent(lc) {
                Some(folded) => out.push_str(folded),
                None if lc.is_alphanumeric() => out.push(base_letter(lc)),
                None => out.push(' '),
            }
        }
    }
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn fold_accent(c: char) -> Option<&'static str> {
    Some(match c {
        'ä' | 'æ' => "ae",
        'ö' | 'ø' | 'œ' => "oe",
        'ü' => "ue",
        'ß' => "ss",
        'ł' => "l",
        'đ' => "d",
        'ı' => "i",
        _ => return None,
    })
}

/// A letter without its accents ("ę" → e, "ñ" → n), by Unicode decomposition.
fn base_letter(c: char) -> char {
    use unicode_normalization::UnicodeNormalization;
    std::iter::once(c)
        .nfd()
        .next()
        .filter(char::is_ascii_alphabetic)
        .unwrap_or(c)
}

/// A mapping confirmed in an earlier import: of this module, or of another one (then a hint for
/// a field of the same slug and type).
#[derive(Debug, Clone, PartialEq)]
pub struct RememberedMapping {
    pub header: String,
    pub mapping: ColumnMapping,
    /// `None` when confirmed for this module; else the other module's field type of the target.
    pub elsewhere: Option<FieldType>,
}
