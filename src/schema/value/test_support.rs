//! Helpers the value tests of every kind share: fields of a type, default and day-first options,
//! and `ok`/`err` checks that also prove a text cell and the same JSON string parse alike.

pub(super) use serde_json::{Value, json};

pub(super) use super::{ValueOptions, display_text, match_keys, parse_json, parse_text};
pub(super) use crate::schema::{FieldDef, FieldType};

pub(super) fn field(field_type: FieldType) -> FieldDef {
    FieldDef::of_type("f", field_type)
}

pub(super) fn select(field_type: FieldType, options: &[&str]) -> FieldDef {
    FieldDef {
        options: options.iter().map(|o| (*o).to_owned()).collect(),
        ..field(field_type)
    }
}

pub(super) fn opts() -> ValueOptions {
    ValueOptions::default()
}

pub(super) fn day_first() -> ValueOptions {
    ValueOptions {
        day_first: true,
        ..ValueOptions::default()
    }
}

/// Parses text that must be accepted and not empty.
pub(super) fn ok(field_type: FieldType, raw: &str) -> Value {
    ok_with(&field(field_type), raw, &opts())
}

pub(super) fn ok_with(field: &FieldDef, raw: &str, opts: &ValueOptions) -> Value {
    let text = parse_text(field, raw, opts)
        .unwrap_or_else(|e| panic!("{raw:?} rejected: {e}"))
        .unwrap_or_else(|| panic!("{raw:?} parsed as empty"));
    // Text cells and JSON strings are one path; prove they agree.
    let json = parse_json(field, &Value::String(raw.to_owned()), opts).unwrap();
    assert_eq!(json.as_ref(), Some(&text), "parse_json differs for {raw:?}");
    text
}

pub(super) fn ok_json(field_type: FieldType, raw: Value) -> Value {
    parse_json(&field(field_type), &raw, &opts())
        .unwrap_or_else(|e| panic!("{raw} rejected: {e}"))
        .unwrap_or_else(|| panic!("{raw} parsed as empty"))
}

pub(super) fn err(field_type: FieldType, raw: &str) -> String {
    err_with(&field(field_type), raw)
}

pub(super) fn err_with(field: &FieldDef, raw: &str) -> String {
    match parse_text(field, raw, &opts()) {
        Err(e) => e.0,
        Ok(v) => panic!("{raw:?} accepted as {v:?}"),
    }
}

pub(super) fn err_json(field: &FieldDef, raw: Value) -> String {
    match parse_json(field, &raw, &opts()) {
        Err(e) => e.to_string(),
        Ok(v) => panic!("{raw} accepted as {v:?}"),
    }
}

pub(super) fn phone(number: &str, kind: &str) -> Value {
    json!({"number": number, "type": kind})
}
