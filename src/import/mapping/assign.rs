//! The suggestion itself: candidates for every column from its header and its values, then one
//! assignment for the whole file.
//!
//! In: a module, the columns, sample rows, remembered mappings. Out: [`SuggestResult`]. Each
//! candidate is (column, target, confidence); the strongest are taken first and each target
//! (phone kind, address part) goes to one column only, so "Title" cannot take the job title
//! from "Job Title" when both name it, and only the best-filled address group of a file is used.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::concepts::{
    ADDRESS_CONCEPTS, address_group, best_score, blocked, concept, is_placeholder, patterns,
    phone_kind, phone_kind_of_label, split_patterns,
};
use super::sniff::{Kind, ValueProfile};
use super::synonyms::canonical_tokens;
use super::value_map::{mapped_share, suggest_value_map};
use super::{
    DISPLAY_NAME, MIN_CONFIDENCE, MappingSuggestion, RememberedMapping, SuggestResult, TargetField,
    normalize_header,
};
use crate::schema::value::ValueOptions;
use crate::schema::{FieldDef, FieldType, Module};

/// A candidate target for one column.
#[derive(Debug, Clone)]
struct Candidate {
    column: usize,
    target: String,
    confidence: f64,
    value_type: Option<String>,
    address_part: Option<String>,
    /// A part that joins another column of the same target (a name particle, a house number).
    joins: bool,
}

/// One column as the suggestion sees it.
struct Column<'a> {
    tokens: Vec<String>,
    values: Vec<&'a str>,
    profile: ValueProfile,
}

/// The header words of a column: its canonical tokens, each once, with "#" read as "number"
/// and a currency sign as "amount".
fn header_tokens(header: &str) -> Vec<String> {
    let spelled: String = header
        .chars()
        .map(|c| match c {
            '#' => " number ".to_string(),
            '$' | '€' | '£' | '¥' => " amount ".to_string(),
            c => c.to_string(),
        })
        .collect();
    let mut tokens: Vec<String> = Vec::new();
    for t in canonical_tokens(&normalize_header(&spelled)) {
        if !tokens.contains(&t) {
            tokens.push(t);
        }
    }
    tokens
}

/// The token patterns that name a field: its concept's, its slug's and its label's.
fn field_patterns(field: &FieldDef) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    if let Some(c) = concept(field) {
        out.extend(patterns(c));
    }
    if field.slug == "name" {
        out.extend(patterns("full_name"));
    }
    for own in [&field.slug, &field.label] {
        let tokens = header_tokens(own);
        if !tokens.is_empty() && !out.contains(&tokens) {
            out.push(tokens);
        }
    }
    out
}

/// The header score of a field's weak patterns ("Type" or "Label" for a status) is worth less.
fn header_score(tokens: &[String], field: &FieldDef) -> f64 {
    let score = best_score(tokens, &field_patterns(field));
    let weak = split_patterns(&["type", "label"]);
    if score > 0.0 && best_score(tokens, &weak) >= score && concept(field) == Some("status") {
        score * 0.7
    } else {
        score
    }
}

/// The header score adjusted by what the values say for a field; 0 when they contradict it.
fn with_values(h: f64, field: &FieldDef, col: &Column) -> f64 {
    let p = &col.profile;
    if p.non_empty == 0 {
        // An empty sample says nothing: a header alone is not certain.
        return h.min(0.85);
    }
    let confirm = |fit: f64| {
        if fit >= 0.8 {
            (h + 0.03).min(1.0)
        } else if fit >= 0.5 {
            h.min(0.85)
        } else {
            0.0
        }
    };
    match field.field_type {
        FieldType::Email => confirm(p.share(Kind::Email)),
        FieldType::Phone => {
            if p.share(Kind::Date) >= 0.5 {
                0.0
            } else {
                confirm(p.share(Kind::Phone))
            }
        }
        FieldType::Url => {
            if p.share(Kind::SocialUrl) >= 0.5 {
                0.0
            } else {
                confirm(p.share(Kind::Url))
            }
        }
        FieldType::Date | FieldType::Datetime => confirm(p.share(Kind::Date)),
        FieldType::Number | FieldType::Currency => {
            confirm(p.share(Kind::Number).max(p.share(Kind::Money)))
        }
        FieldType::Select | FieldType::MultiSelect => {
            let map = suggest_value_map(field, &p.distinct);
            let rows = mapped_share(&map, &col.values);
            let distinct =
                map.iter().filter(|(_, o)| o.is_some()).count() as f64 / map.len().max(1) as f64;
            if rows >= 0.75 {
                (h + 0.05).clamp(0.75, 0.97)
            } else if h >= 0.95 && rows >= 0.5 && distinct > 0.5 {
                // The header names the field outright and most values fit: the rest are the
                // user's to map, and the confidence says so.
                0.7
            } else {
                0.0
            }
        }
        _ => {
            if p.non_text_share() >= 0.5 {
                return 0.0;
            }
            match concept(field) {
                Some("job_title") if p.share(Kind::Honorific) >= 0.5 => 0.0,
                Some("first_name") | Some("last_name") if p.share(Kind::CompanyName) >= 0.4 => 0.0,
                Some("first_name") if multiword_share(col) >= 0.6 => 0.0,
                _ => h,
            }
        }
    }
}

/// The share of values of two words or more (full names rather than first names).
fn multiword_share(col: &Column) -> f64 {
    let non_empty: Vec<&&str> = col.values.iter().filter(|v| !v.trim().is_empty()).collect();
    if non_empty.is_empty() {
        return 0.0;
    }
    non_empty
        .iter()
        .filter(|v| v.split_whitespace().count() >= 2)
        .count() as f64
        / non_empty.len() as f64
}

/// What the values of an address part must look like.
fn address_fits(part: &str, col: &Column) -> bool {
    let p = &col.profile;
    if p.non_empty == 0 {
        return true;
    }
    match part {
        "zip" => {
            p.share(Kind::Postcode) >= 0.5 || p.share(Kind::Word) < 0.5 && p.non_text_share() < 0.5
        }
        "city" | "state" | "country" => {
            p.non_text_share() < 0.5 && p.share(Kind::Postcode) < 0.5
                || part != "city" && p.share(Kind::Word) >= 0.5
        }
        _ => {
            p.share(Kind::Email)
                .max(p.share(Kind::Phone))
                .max(p.share(Kind::Url))
                < 0.5
        }
    }
}

/// The display-name target of a module: its `name` field, or the core display name.
fn name_target(module: &Module) -> String {
    if module.field("name").is_some() {
        "name".to_string()
    } else {
        DISPLAY_NAME.to_string()
    }
}

/// The one field of a type in the module, if there is exactly one.
fn only_field_of<'m>(module: &'m Module, types: &[FieldType]) -> Option<&'m FieldDef> {
    let mut it = module
        .def
        .fields
        .iter()
        .filter(|f| types.contains(&f.field_type));
    match (it.next(), it.next()) {
        (Some(f), None) => Some(f),
        _ => None,
    }
}

/// Candidates from the values alone: for any header that is not blocked, the kinds values tell
/// outright (emails, phones, URLs); for placeholder headers, also names, companies, dates,
/// amounts, options, postcodes, places and long text. Never 0.9 and above except emails.
fn value_candidates(module: &Module, i: usize, col: &Column, out: &mut Vec<Candidate>) {
    let p = &col.profile;
    if p.non_empty == 0 || blocked(&col.tokens) {
        return;
    }
    let mut push = |target: &str, confidence: f64, address_part: Option<&str>, value_type| {
        out.push(Candidate {
            column: i,
            target: target.to_string(),
            confidence,
            value_type,
            address_part: address_part.map(str::to_string),
            joins: false,
        })
    };
    if let Some(f) = only_field_of(module, &[FieldType::Email])
        && p.share(Kind::Email) >= 0.8
    {
        push(&f.slug, 0.9 * p.share(Kind::Email), None, None);
    }
    if let Some(f) = only_field_of(module, &[FieldType::Phone])
        && p.share(Kind::Phone) >= 0.8
        && p.share(Kind::Date) < 0.5
    {
        push(&f.slug, 0.8, None, phone_kind(&col.tokens, f));
    }
    if let Some(f) = only_field_of(module, &[FieldType::Url])
        && p.share(Kind::Url) >= 0.8
    {
        push(&f.slug, 0.85, None, None);
    }
    if !is_placeholder(&col.tokens) {
        return;
    }
    if p.share(Kind::Date) >= 0.8
        && let Some(f) = only_field_of(module, &[FieldType::Date, FieldType::Datetime])
    {
        push(&f.slug, 0.65, None, None);
    }
    if p.share(Kind::Money) >= 0.6
        && let Some(f) = only_field_of(module, &[FieldType::Currency])
    {
        push(&f.slug, 0.7, None, None);
    }
    for f in module
        .def
        .fields
        .iter()
        .filter(|f| f.field_type == FieldType::Select)
    {
        let map = suggest_value_map(f, &p.distinct);
        if mapped_share(&map, &col.values) >= 0.8 {
            push(&f.slug, 0.8, None, None);
        }
    }
    let address = only_field_of(module, &[FieldType::Address]);
    if let Some(f) = address
        && p.share(Kind::Postcode) >= 0.8
        && p.share(Kind::Word) == 0.0
        && p.share(Kind::Identifier) == 0.0
    {
        push(&f.slug, 0.55, Some("zip"), None);
    }
    if p.non_text_share() >= 0.5 {
        return;
    }
    if let Some(f) = address
        && p.share(Kind::Word) >= 0.8
        && p.share(Kind::PersonName) < 0.5
    {
        push(&f.slug, 0.5, Some("city"), None);
    }
    if p.share(Kind::CompanyName) >= 0.5
        && let Some(f) = module.field("company").or_else(|| module.field("account"))
    {
        push(&f.slug, 0.7, None, None);
    } else if p.share(Kind::PersonName) >= 0.6 {
        push(&name_target(module), 0.7, None, None);
    }
    if p.share(Kind::LongText) >= 0.5
        && let Some(f) = only_field_of(module, &[FieldType::LongText])
    {
        push(&f.slug, 0.65, None, None);
    }
}

/// The phone kind a label column beside a phone column gives ("Phone 1 - Label": Mobile), when
/// all its sample values name the same kind.
fn kind_from_label(columns: &[Column], phone: usize, field: &FieldDef) -> Option<String> {
    // "Phone 1 - Value" and its "Phone 1 - Label".
    let own: Vec<&String> = columns[phone]
        .tokens
        .iter()
        .filter(|t| *t != "value")
        .collect();
    let label = columns.iter().find(|c| {
        c.tokens.len() > own.len()
            && c.tokens
                .iter()
                .any(|t| t == "type" || t == "label" || t == "kind")
            && own.iter().all(|t| c.tokens.contains(t))
    })?;
    let mut kinds = label
        .values
        .iter()
        .filter(|v| !v.trim().is_empty())
        .map(|v| phone_kind_of_label(v));
    let first = kinds.next()??;
    kinds.all(|k| k == Some(first)).then(|| {
        field
            .phone_types()
            .iter()
            .find(|a| a.eq_ignore_ascii_case(first))
            .map(|a| a.to_string())
    })?
}

/// Whether most values of a column name a phone kind: a label column ("Phone 1 - Label",
/// "Primary": Home, Work, Mobile).
fn labels_kinds(col: &Column) -> bool {
    let non_empty: Vec<&&str> = col.values.iter().filter(|v| !v.trim().is_empty()).collect();
    !non_empty.is_empty()
        && non_empty
            .iter()
            .filter(|v| phone_kind_of_label(v).is_some())
            .count()
            * 5
            >= non_empty.len() * 4
}

/// Suggests a target for each column. `samples` are rows keyed by column name.
pub fn suggest(
    module: &Module,
    columns: &[String],
    samples: &[Map<String, Value>],
    remembered: &[RememberedMapping],
    options: &ValueOptions,
) -> SuggestResult {
    let cols: Vec<Column> = columns
        .iter()
        .map(|c| {
            let values: Vec<&str> = samples
                .iter()
                .filter_map(|row| row.get(c).and_then(Value::as_str))
                .collect();
            Column {
                tokens: header_tokens(c),
                profile: ValueProfile::of(&values, options),
                values,
            }
        })
        .collect();
    let address = only_field_of(module, &[FieldType::Address]);
    let mut candidates: Vec<Candidate> = Vec::new();
    for (i, (column, col)) in columns.iter().zip(&cols).enumerate() {
        if let Some(c) = remembered_candidate(module, i, column, remembered) {
            let confirmed_here = c.confidence >= 0.99;
            candidates.push(c);
            if confirmed_here {
                continue;
            }
        }
        // A column of kinds ("Home", "Work", "Mobile") labels another column; it is no field.
        let kinds_only = labels_kinds(col);
        if let Some(field) = address.filter(|_| !kinds_only) {
            for (part, part_patterns) in ADDRESS_CONCEPTS {
                let h = best_score(&col.tokens, &split_patterns(part_patterns));
                if h >= MIN_CONFIDENCE && address_fits(part, col) {
                    candidates.push(Candidate {
                        column: i,
                        target: field.slug.clone(),
                        confidence: h,
                        value_type: None,
                        address_part: Some(part.to_string()),
                        joins: col.tokens.iter().any(|t| t == "house") && *part == "street",
                    });
                }
            }
        }
        let mut contradicted_name = false;
        for field in &module.def.fields {
            if field.field_type == FieldType::Address
                || kinds_only && !matches!(field.field_type, FieldType::Select)
            {
                continue;
            }
            let h = header_score(&col.tokens, field);
            if h < MIN_CONFIDENCE {
                continue;
            }
            let confidence = with_values(h, field, col);
            if confidence == 0.0 && matches!(concept(field), Some("first_name") | Some("last_name"))
            {
                contradicted_name = true;
            }
            if confidence >= MIN_CONFIDENCE {
                candidates.push(Candidate {
                    column: i,
                    target: field.slug.clone(),
                    confidence,
                    value_type: (field.field_type == FieldType::Phone)
                        .then(|| {
                            phone_kind(&col.tokens, field)
                                .or_else(|| kind_from_label(&cols, i, field))
                        })
                        .flatten(),
                    address_part: None,
                    joins: false,
                });
            }
        }
        // Name particles ("van der") join the last name.
        if let Some(last) = module.field("last_name")
            && best_score(&col.tokens, &split_patterns(&["particle"])) >= 0.9
            && col.profile.non_text_share() < 0.5
        {
            candidates.push(Candidate {
                column: i,
                target: last.slug.clone(),
                confidence: 0.9,
                value_type: None,
                address_part: None,
                joins: true,
            });
        }
        name_candidates(module, i, col, contradicted_name, &mut candidates);
        kind_only_phone(module, i, col, &mut candidates);
        value_candidates(module, i, col, &mut candidates);
    }
    let chosen = assign(candidates, columns.len(), &cols);
    let suggestions = columns
        .iter()
        .zip(chosen)
        .enumerate()
        .map(|(i, (column, c))| match c {
            Some(c) if !c.target.is_empty() => {
                let field = module.field(&c.target);
                let value_map = field
                    .filter(|f| matches!(f.field_type, FieldType::Select | FieldType::MultiSelect))
                    .map(|f| {
                        suggest_value_map(f, &cols[i].profile.distinct)
                            .into_iter()
                            .collect::<BTreeMap<_, _>>()
                    });
                MappingSuggestion {
                    source_column: column.clone(),
                    target_field_slug: Some(c.target),
                    confidence: (c.confidence.min(1.0) * 100.0).round() / 100.0,
                    value_type: c.value_type,
                    address_part: c.address_part,
                    value_map,
                }
            }
            _ => MappingSuggestion {
                source_column: column.clone(),
                target_field_slug: None,
                confidence: 0.0,
                value_type: None,
                address_part: None,
                value_map: None,
            },
        })
        .collect();
    SuggestResult {
        suggestions,
        ai_used: false,
        target_fields: target_fields(module),
    }
}

/// A mapping confirmed for this header: for this module at 0.99 (first, whatever else says);
/// for another module, a hint at 0.9 for the field of the same slug and type here.
fn remembered_candidate(
    module: &Module,
    i: usize,
    column: &str,
    remembered: &[RememberedMapping],
) -> Option<Candidate> {
    let header = normalize_header(column);
    let matching = || {
        remembered
            .iter()
            .filter(|r| normalize_header(&r.header) == header)
    };
    let here =
        matching()
            .find(|r| r.elsewhere.is_none())
            .filter(|r| match &r.mapping.target_field_slug {
                Some(t) => t == DISPLAY_NAME || module.field(t).is_some(),
                None => true,
            });
    if let Some(r) = here {
        return Some(Candidate {
            column: i,
            target: if r.mapping.ignored {
                String::new()
            } else {
                r.mapping.target_field_slug.clone().unwrap_or_default()
            },
            confidence: 0.99,
            value_type: r.mapping.value_type.clone(),
            address_part: r.mapping.address_part.clone(),
            joins: false,
        });
    }
    matching().find_map(|r| {
        let slug = r.mapping.target_field_slug.as_deref()?;
        let field = module.field(slug)?;
        (Some(field.field_type) == r.elsewhere).then(|| Candidate {
            column: i,
            target: field.slug.clone(),
            confidence: 0.9,
            value_type: r.mapping.value_type.clone(),
            address_part: r.mapping.address_part.clone(),
            joins: false,
        })
    })
}

/// The display name (or `name` field) from a "Name" / "Full name" header, checked against the
/// values: full names; company names under a name header go to the company instead.
fn name_candidates(
    module: &Module,
    i: usize,
    col: &Column,
    contradicted_name: bool,
    out: &mut Vec<Candidate>,
) {
    let target = name_target(module);
    let has_name_field = module.field("name").is_some();
    let h = best_score(&col.tokens, &patterns("full_name"));
    let p = &col.profile;
    let mut push = |target: String, confidence: f64| {
        out.push(Candidate {
            column: i,
            target,
            confidence,
            value_type: None,
            address_part: None,
            joins: false,
        })
    };
    if p.non_text_share() >= 0.5 {
        return;
    }
    if h >= 0.9 && p.share(Kind::CompanyName) >= 0.4 {
        if let Some(f) = module.field("company").or_else(|| module.field("account")) {
            push(f.slug.clone(), 0.8);
        }
        return;
    }
    if h >= 0.9 && !has_name_field {
        push(target.clone(), h * 0.97);
    }
    // "Nome" read as a first name over full names is the full name.
    if contradicted_name && multiword_share(col) >= 0.6 && p.share(Kind::CompanyName) < 0.4 {
        push(target, 0.85);
    }
}

/// A header of a phone kind alone ("Work", "Home", "Other") over phone numbers is that phone.
fn kind_only_phone(module: &Module, i: usize, col: &Column, out: &mut Vec<Candidate>) {
    let Some(field) = only_field_of(module, &[FieldType::Phone]) else {
        return;
    };
    let Some(kind) = phone_kind(&col.tokens, field) else {
        return;
    };
    let only_kind = col.tokens.iter().all(|t| {
        [
            "work", "home", "mobile", "other", "number", "primary", "1", "2", "3",
        ]
        .contains(&t.as_str())
    });
    if only_kind && col.profile.share(Kind::Phone) >= 0.8 {
        out.push(Candidate {
            column: i,
            target: field.slug.clone(),
            confidence: 0.9,
            value_type: Some(kind),
            address_part: None,
            joins: false,
        });
    }
}

/// Picks the strongest candidates first; a column takes one target and a target (phone kind,
/// address part) one column, except parts that join. Address parts come from one group only:
/// the one whose candidates are most, then best filled.
fn assign(mut candidates: Vec<Candidate>, n: usize, cols: &[Column]) -> Vec<Option<Candidate>> {
    let groups: Vec<(Vec<String>, usize)> = candidates
        .iter()
        .filter(|c| c.address_part.is_some())
        .map(|c| {
            (
                address_group(&cols[c.column].tokens),
                cols[c.column].profile.non_empty,
            )
        })
        .collect();
    let mut by_group: BTreeMap<Vec<String>, (usize, usize)> = BTreeMap::new();
    for (g, filled) in groups {
        let e = by_group.entry(g).or_default();
        e.0 += 1;
        e.1 += filled;
    }
    if by_group.len() > 1 {
        let best = by_group
            .iter()
            .max_by_key(|(_, (count, filled))| (*count, *filled))
            .map(|(g, _)| g.clone())
            .unwrap_or_default();
        candidates
            .retain(|c| c.address_part.is_none() || address_group(&cols[c.column].tokens) == best);
    }
    candidates.sort_by(|a, b| {
        b.confidence
            .total_cmp(&a.confidence)
            .then(a.column.cmp(&b.column))
    });
    let mut chosen: Vec<Option<Candidate>> = vec![None; n];
    let mut taken: Vec<(String, Option<String>, Option<String>, bool)> = Vec::new();
    for c in candidates {
        if chosen[c.column].is_some() {
            continue;
        }
        let key = (
            c.target.clone(),
            c.value_type.clone(),
            c.address_part.clone(),
            c.joins,
        );
        if !c.target.is_empty() && taken.contains(&key) {
            continue;
        }
        taken.push(key);
        let column = c.column;
        chosen[column] = Some(c);
    }
    chosen
}

fn target_fields(module: &Module) -> Vec<TargetField> {
    let mut target_fields = Vec::with_capacity(module.def.fields.len() + 1);
    if module.field("name").is_none() {
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
    target_fields
}
