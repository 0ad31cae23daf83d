//! Column mapping: the spec's `columnMapping` entries, and suggestions for them.
//!
//! In: a module, the file's column headers, some sample rows and the mappings confirmed in earlier
//! imports of the module. Out: one suggestion per column, with a confidence in 0..1. Evidence, in
//! order of trust: a mapping confirmed before for the same header; an exact header match (field
//! slug, label or a synonym that CRM exports and a few languages use); the sample values (an email
//! column is an email column whatever its header); fuzzy header similarity. A column without good
//! evidence stays unmapped rather than guessed, and each field is suggested for one column only
//! (phones once per kind, addresses once per part).
//!
//! Here: the types and [`suggest`], which weighs the evidence; `synonyms` holds the header
//! synonym table, `sniff` what sample values look like.

mod sniff;
mod synonyms;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::schema::value::ValueOptions;
use crate::schema::{FieldDef, FieldType, Module};
use sniff::ValueProfile;
use synonyms::{
    ADDRESS_PREFIXES, ADDRESS_TABLE, SYNONYM_TABLE, concept, names_other_concept, phone_kind,
};

/// The core field a column can map to besides the module's own fields.
pub const DISPLAY_NAME: &str = "displayName";

/// Suggestions below this confidence are left unmapped.
const MIN_CONFIDENCE: f64 = 0.75;

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
    for c in header.trim().chars() {
        if c.is_uppercase() && prev_lower {
            out.push(' ');
        }
        prev_lower = c.is_lowercase() || c.is_ascii_digit();
        for lc in c.to_lowercase() {
            match fold_accent(lc) {
                Some(folded) => out.push_str(folded),
                None if lc.is_alphanumeric() => out.push(lc),
                None => out.push(' '),
            }
        }
    }
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn fold_accent(c: char) -> Option<&'static str> {
    Some(match c {
        'à' | 'á' | 'â' | 'ã' | 'å' => "a",
        'ä' => "ae",
        'ç' => "c",
        'è' | 'é' | 'ê' | 'ë' => "e",
        'ì' | 'í' | 'î' | 'ï' => "i",
        'ñ' => "n",
        'ò' | 'ó' | 'ô' | 'õ' => "o",
        'ö' => "oe",
        'ù' | 'ú' | 'û' => "u",
        'ü' => "ue",
        'ß' => "ss",
        _ => return None,
    })
}

/// A mapping confirmed in an earlier import of the module.
#[derive(Debug, Clone, PartialEq)]
pub struct RememberedMapping {
    pub header: String,
    pub mapping: ColumnMapping,
}

/// A candidate target for one column.
#[derive(Debug, Clone)]
struct Candidate {
    column: usize,
    target: String,
    confidence: f64,
    value_type: Option<String>,
    address_part: Option<String>,
}

/// How similar a normalised header is to a normalised name: 1 when equal; high when one's words
/// contain the other's; else Jaro-Winkler, which rewards shared prefixes such as "email" and
/// "emailaddr".
fn similarity(header: &str, name: &str) -> f64 {
    if header == name {
        return 1.0;
    }
    // Jaro-Winkler takes time in the product of the two lengths, and no field name is this
    // long: a longer header is judged by its start, so a suggestion's time is linear in the
    // header's size (issue 17).
    const COMPARED_CHARS: usize = 64;
    let header = match header.char_indices().nth(COMPARED_CHARS) {
        Some((end, _)) => &header[..end],
        None => header,
    };
    let squash = |s: &str| s.replace(' ', "");
    if squash(header) == squash(name) {
        return 0.98;
    }
    let h_words: Vec<&str> = header.split(' ').collect();
    let n_words: Vec<&str> = name.split(' ').collect();
    if n_words.len() > 1 && n_words.iter().all(|w| h_words.contains(w)) {
        return 0.85;
    }
    strsim::jaro_winkler(header, name) * 0.9
}

/// Suggests a target for each column. `samples` are rows keyed by column name.
pub fn suggest(
    module: &Module,
    columns: &[String],
    samples: &[Map<String, Value>],
    remembered: &[RememberedMapping],
    options: &ValueOptions,
) -> SuggestResult {
    let has_name_field = module.field("name").is_some();
    let address_fields: Vec<&FieldDef> = module
        .def
        .fields
        .iter()
        .filter(|f| f.field_type == FieldType::Address)
        .collect();
    let mut candidates: Vec<Candidate> = Vec::new();
    for (i, column) in columns.iter().enumerate() {
        let header = normalize_header(column);
        let values: Vec<&str> = samples
            .iter()
            .filter_map(|row| row.get(column).and_then(Value::as_str))
            .collect();
        let profile = ValueProfile::of(&values, options);

        if let Some(r) = remembered
            .iter()
            .find(|r| normalize_header(&r.header) == header)
        {
            let known = match &r.mapping.target_field_slug {
                Some(t) => t == DISPLAY_NAME || module.field(t).is_some(),
                None => true,
            };
            if known {
                candidates.push(Candidate {
                    column: i,
                    target: r.mapping.target_field_slug.clone().unwrap_or_default(),
                    confidence: 0.99,
                    value_type: r.mapping.value_type.clone(),
                    address_part: r.mapping.address_part.clone(),
                });
                continue;
            }
        }

        // Address parts: "City", "Billing City", "Address 1 - Postal Code", "PLZ"...
        if let Some(field) = address_fields.first() {
            let stripped = ADDRESS_PREFIXES
                .iter()
                .find_map(|p| header.strip_prefix(&format!("{p} ")))
                .unwrap_or(&header);
            for (part, words) in ADDRESS_TABLE.iter() {
                if words.iter().any(|w| w == &header || w == stripped) {
                    candidates.push(Candidate {
                        column: i,
                        target: field.slug.clone(),
                        confidence: if words.iter().any(|w| w == &header) {
                            0.95
                        } else {
                            0.9
                        },
                        value_type: None,
                        address_part: Some(part.to_string()),
                    });
                }
            }
        }

        for field in &module.def.fields {
            let mut names = vec![
                normalize_header(&field.slug),
                normalize_header(&field.label),
            ];
            if let Some(c) = concept(field) {
                names.extend(SYNONYM_TABLE[c].iter().cloned());
            }
            let mut score = names
                .iter()
                .map(|n| similarity(&header, n))
                .fold(0.0, f64::max);
            // "Primary Email" is fuzzily close to "Primary Phone", but its word "email" names
            // another concept outright: a near miss is not evidence then.
            if score < 0.95 && names_other_concept(&header, concept(field)) {
                score *= 0.7;
            }
            // Values confirm or contradict what the header says.
            // Emails, phones and URLs are recognisable by value alone; numbers and dates only
            // confirm a header, since ids, zips and amounts all look alike.
            let telling = matches!(
                field.field_type,
                FieldType::Email | FieldType::Phone | FieldType::Url
            );
            match profile.fit(field.field_type) {
                Some(fit) if fit >= 0.8 && telling => score = (score + 0.1).min(1.0).max(0.9 * fit),
                Some(fit) if fit >= 0.8 => score = (score + 0.05).min(1.0),
                // One email among phone numbers is a contradiction; for other types, a few
                // odd values are not.
                Some(fit) if fit < 0.3 && (telling || profile.non_empty >= 3) => score *= 0.5,
                _ => {}
            }
            if field.field_type == FieldType::Address {
                // Whole-address columns map by part above; a bare "Address" header is a street.
                continue;
            }
            if score >= MIN_CONFIDENCE {
                let value_type = (field.field_type == FieldType::Phone)
                    .then(|| phone_kind(&header, field))
                    .flatten();
                candidates.push(Candidate {
                    column: i,
                    target: field.slug.clone(),
                    confidence: score,
                    value_type,
                    address_part: None,
                });
            }
        }

        // "Name" / "Full name" fills the display name when the module has no name field.
        if !has_name_field {
            let score = SYNONYM_TABLE["full_name"]
                .iter()
                .map(|n| similarity(&header, n))
                .fold(0.0, f64::max);
            if score >= 0.9 {
                candidates.push(Candidate {
                    column: i,
                    target: DISPLAY_NAME.to_string(),
                    confidence: score * 0.95,
                    value_type: None,
                    address_part: None,
                });
            }
        }
    }

    // Greedy: the strongest evidence first; each column gets one target, each target (or phone
    // kind, or address part) one column.
    candidates.sort_by(|a, b| {
        b.confidence
            .total_cmp(&a.confidence)
            .then(a.column.cmp(&b.column))
    });
    let mut chosen: Vec<Option<Candidate>> = vec![None; columns.len()];
    let mut taken: Vec<(String, Option<String>, Option<String>)> = Vec::new();
    for c in candidates {
        if chosen[c.column].is_some() {
            continue;
        }
        let key = (
            c.target.clone(),
            c.value_type.clone(),
            c.address_part.clone(),
        );
        if !c.target.is_empty() && taken.contains(&key) {
            continue;
        }
        taken.push(key);
        let column = c.column;
        chosen[column] = Some(c);
    }

    let suggestions = columns
        .iter()
        .zip(chosen)
        .map(|(column, c)| match c {
            Some(c) if !c.target.is_empty() => MappingSuggestion {
                source_column: column.clone(),
                target_field_slug: Some(c.target),
                confidence: (c.confidence * 100.0).round() / 100.0,
                value_type: c.value_type,
                address_part: c.address_part,
            },
            _ => MappingSuggestion {
                source_column: column.clone(),
                target_field_slug: None,
                confidence: 0.0,
                value_type: None,
                address_part: None,
            },
        })
        .collect();

    let mut target_fields = Vec::with_capacity(module.def.fields.len() + 1);
    if !has_name_field {
        target_fields.push(TargetField {
            field_slug: DISPLAY_NAME.to_string(),
            label: "Name".to_string(),
            data_type: "text".to_string(),
        });
    }
    target_fields.extend(module.def.fields.iter().map(|f| TargetField {
        field_slug: f.slug.clone(),
        label: f.label.clone(),
        data_type: f.field_type.as_str().to_string(),
    }));
    SuggestResult {
        suggestions,
        ai_used: false,
        target_fields,
    }
}
