//! Typed values: the one place that turns a raw value into the stored value of a field, and
//! that reads match keys and display text back out of stored values.
//!
//! In: a [`FieldDef`], a raw value — a `serde_json::Value` from API/CLI bodies ([`parse_json`]) or
//! a `&str` cell from CSV/Excel imports ([`parse_text`]) — and [`ValueOptions`] (default phone
//! region, whether `03/04/2024` is day-first, whether `1.234` has a decimal point).
//!
//! Out: `Ok(Some(stored))`, `Ok(None)` when the value is empty (null, blank text, empty list,
//! object with only blank parts), or a [`ValueError`] with a message for people that does not
//! name the field (the caller adds it).
//!
//! | type                           | stored                                                     |
//! |--------------------------------|------------------------------------------------------------|
//! | text, long_text, reference     | trimmed string                                             |
//! | number, currency               | number; an integer when it has no fraction and fits `i64`  |
//! | email                          | lower-cased address                                        |
//! | phone                          | `[{"number": "+12125550100", "type": "Mobile"}, ...]`      |
//! | url                            | `url` crate serialisation, http(s) only                    |
//! | date                           | `"2024-01-15"`                                             |
//! | datetime                       | `"2024-01-15T10:30:00Z"` (UTC, `.123` only when non-zero)  |
//! | boolean                        | `true` / `false`                                           |
//! | select                         | the option's canonical spelling                            |
//! | multi_select                   | list of canonical options, no duplicates, input order      |
//! | address                        | object of the non-blank [`ADDRESS_PARTS`]                  |
//!
//! Guarantees: every stored value has exactly one of the shapes above, and parsing a stored value
//! again returns it unchanged, so [`match_keys`] and [`display_text`] only read these shapes and
//! values can be re-validated after a schema edit without drifting.
//!
//! Speed: the import pipeline calls this for every cell, so parsing is hand-written over bytes
//! (no regexes, no per-call tables) and allocates little more than the stored value. The one
//! shared state is the phone metadata: the `phonenumber` crate's rules run over its patterns
//! compiled once and shared by every thread (`phone_rules`), not through the crate's mutexed regex
//! cache, which only answers for regions the metadata lacks (`phone::phone_database`).
//!
//! Where each kind lives: `text` (text, long text, references; case folding), `number`
//! (numbers, currency), `email`, `url`, `phone` (phone numbers and the phone metadata
//! databases) with `phone_rules` (their validity check), `date` (dates, date-times, Excel
//! serials), `choice` (booleans, selects, multi-selects) and `address`. This file holds the
//! entry points, which dispatch on the field type, and the messages for values of the wrong JSON
//! shape.

mod address;
mod choice;
mod date;
mod email;
mod number;
mod phone;
mod phone_rules;
#[cfg(test)]
mod test_support;
mod text;
mod url;

use phonenumber::country::Id as Region;
use serde_json::{Map, Value};

pub use self::address::parse_address_parts;
use self::address::{checked_address_part, parse_address_json};
use self::choice::{
    find_option, not_an_option, parse_bool_text, parse_multi_select_json, parse_multi_select_text,
};
use self::date::{
    excel_serial_date, excel_serial_datetime, format_date, format_datetime, parse_date_text,
    parse_datetime_text,
};
use self::email::parse_email;
pub(crate) use self::number::implied_decimal_mark;
use self::number::{normalise_json_number, number_text, parse_number_text};
pub use self::phone::parse_phone_parts;
use self::phone::{for_each_phone_number, parse_phone_json, parse_phone_text, phone_key};
use self::text::{
    LONG_TEXT_MAX_CHARS, REFERENCE_MAX_CHARS, TEXT_MAX_CHARS, checked_text, fold_text,
};
use self::url::parse_url;
use super::{ADDRESS_PARTS, FieldDef, FieldType};

/// Why a raw value does not fit its field. The message never names the field: the caller knows
/// which field it asked about and words the final error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ValueError(pub String);

impl ValueError {
    fn new(message: impl Into<String>) -> Self {
        ValueError(message.into())
    }
}

/// Settings that change how ambiguous raw text is read.
#[derive(Debug, Clone)]
pub struct ValueOptions {
    /// Region assumed for phone numbers written without a country code.
    pub default_region: Region,
    /// Read `03/04/2024` as 3 April instead of March 4 (used only when both parts are <= 12).
    pub day_first: bool,
    /// The decimal mark of numbers and amounts (`1.234` is 1.234 or 1234).
    pub decimal_mark: DecimalMark,
}

impl Default for ValueOptions {
    fn default() -> Self {
        ValueOptions {
            default_region: Region::US,
            day_first: false,
            decimal_mark: DecimalMark::Either,
        }
    }
}

/// Which mark separates a number's fraction; the other one (and spaces, apostrophes) can only
/// group thousands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecimalMark {
    /// `1,234.5`: a point, as in en-US and en-GB.
    Point,
    /// `1.234,5`: a comma, as in de-DE and fr-FR.
    Comma,
    /// Each value decides by its own shape: a mark used twice, or followed by other than three
    /// digits, or before the other mark, says which it is; `1.234` and `1,234` read as
    /// thousands.
    Either,
}

const INVALID_TEXT: &str = "Invalid text (expected a string)";
const INVALID_NUMBER: &str = "Invalid number";
const INVALID_CURRENCY: &str = "Invalid currency amount";
const INVALID_EMAIL: &str = "Invalid email format";
const INVALID_PHONE: &str = "Invalid phone number";
const INVALID_URL: &str = "Invalid URL";
const INVALID_DATE: &str = "Invalid date (expected e.g. 2024-01-15)";
const INVALID_DATETIME: &str = "Invalid date-time";
const INVALID_BOOLEAN: &str = "Invalid boolean (expected true/false, yes/no or 1/0)";
const INVALID_SELECT: &str = "Invalid option (expected a single text value)";
const INVALID_MULTI_SELECT: &str = "Invalid options (expected a list of text values)";
const INVALID_REFERENCE: &str = "Invalid reference (expected a record id or name)";
const INVALID_ADDRESS: &str =
    "Invalid address (expected text or an object with street, street2, city, state, zip, country)";

/// The message for a raw value whose JSON shape cannot be this type at all.
fn invalid(field_type: FieldType) -> ValueError {
    ValueError::new(match field_type {
        FieldType::Text | FieldType::LongText => INVALID_TEXT,
        FieldType::Number => INVALID_NUMBER,
        FieldType::Currency => INVALID_CURRENCY,
        FieldType::Email => INVALID_EMAIL,
        FieldType::Phone => INVALID_PHONE,
        FieldType::Url => INVALID_URL,
        FieldType::Date => INVALID_DATE,
        FieldType::Datetime => INVALID_DATETIME,
        FieldType::Boolean => INVALID_BOOLEAN,
        FieldType::Select => INVALID_SELECT,
        FieldType::MultiSelect => INVALID_MULTI_SELECT,
        FieldType::Reference => INVALID_REFERENCE,
        FieldType::Address => INVALID_ADDRESS,
    })
}

// ---------------------------------------------------------------------------------------------
// Entry points
// ---------------------------------------------------------------------------------------------

/// Raw JSON (from API/CLI bodies) to the normalised stored value; `Ok(None)` means empty.
pub fn parse_json(
    field: &FieldDef,
    raw: &Value,
    opts: &ValueOptions,
) -> Result<Option<Value>, ValueError> {
    match raw {
        Value::Null => Ok(None),
        Value::String(text) => parse_text(field, text, opts),
        Value::Array(items) if items.is_empty() => Ok(None),
        _ => match field.field_type {
            FieldType::Phone => parse_phone_json(field, raw, opts),
            FieldType::MultiSelect => parse_multi_select_json(field, raw),
            FieldType::Address => parse_address_json(raw),
            _ => parse_scalar_json(field, raw, opts),
        },
    }
}

/// A raw text cell (CSV/Excel) to the stored value: the same result as [`parse_json`] of a JSON
/// string, without wrapping the cell in a `Value` first.
pub fn parse_text(
    field: &FieldDef,
    raw: &str,
    opts: &ValueOptions,
) -> Result<Option<Value>, ValueError> {
    let text = raw.trim();
    if text.is_empty() {
        return Ok(None);
    }
    let stored = match field.field_type {
        FieldType::Text => checked_text(text, TEXT_MAX_CHARS)?,
        FieldType::LongText => checked_text(text, LONG_TEXT_MAX_CHARS)?,
        FieldType::Reference => checked_text(text, REFERENCE_MAX_CHARS)?,
        FieldType::Number => Value::Number(
            parse_number_text(text, true, opts.decimal_mark)
                .ok_or_else(|| ValueError::new(INVALID_NUMBER))?,
        ),
        FieldType::Currency => Value::Number(
            parse_number_text(text, false, opts.decimal_mark)
                .ok_or_else(|| ValueError::new(INVALID_CURRENCY))?,
        ),
        FieldType::Email => parse_email(text)?,
        FieldType::Phone => return parse_phone_text(field, text, opts),
        FieldType::Url => parse_url(text)?,
        FieldType::Date => {
            let date = parse_date_text(text, opts.day_first)
                .ok_or_else(|| ValueError::new(INVALID_DATE))?;
            Value::String(format_date(date))
        }
        FieldType::Datetime => Value::String(
            parse_datetime_text(text, opts.day_first)
                .and_then(format_datetime)
                .ok_or_else(|| ValueError::new(INVALID_DATETIME))?,
        ),
        FieldType::Boolean => {
            Value::Bool(parse_bool_text(text).ok_or_else(|| ValueError::new(INVALID_BOOLEAN))?)
        }
        FieldType::Select => Value::String(
            find_option(field, text)
                .ok_or_else(|| not_an_option(field, text))?
                .to_owned(),
        ),
        FieldType::MultiSelect => return parse_multi_select_text(field, text),
        FieldType::Address => {
            let mut parts = Map::new();
            parts.insert(
                ADDRESS_PARTS[0].to_owned(),
                checked_address_part(ADDRESS_PARTS[0], text)?,
            );
            Value::Object(parts)
        }
    };
    Ok(Some(stored))
}

/// Normalised keys for unique checks and duplicate matching, read from a stored value (the output
/// of [`parse_json`]/[`parse_text`]). Phones without a country code are read as US numbers; use
/// [`match_keys_with`] when the import used another region.
pub fn match_keys(field: &FieldDef, stored: &Value) -> Vec<String> {
    match_keys_with(field, stored, &ValueOptions::default())
}

/// [`match_keys`] with the options the value was parsed with (only the phone region matters).
pub fn match_keys_with(field: &FieldDef, stored: &Value, opts: &ValueOptions) -> Vec<String> {
    let mut keys = Vec::new();
    match field.field_type {
        FieldType::Phone => {
            for_each_phone_number(stored, &mut |number| {
                if let Some(key) = phone_key(number, opts.default_region)
                    && !keys.contains(&key)
                {
                    keys.push(key);
                }
            });
        }
        FieldType::MultiSelect => {
            let mut push = |value: &Value| {
                let key = fold_text(&display_text(value));
                if !key.is_empty() && !keys.contains(&key) {
                    keys.push(key);
                }
            };
            match stored {
                Value::Array(items) => items.iter().for_each(&mut push),
                other => push(other),
            }
        }
        field_type => {
            let text = display_text(stored);
            let key = match field_type {
                FieldType::Number
                | FieldType::Currency
                | FieldType::Date
                | FieldType::Datetime
                | FieldType::Boolean => text.trim().to_owned(),
                FieldType::Email => text.trim().to_lowercase(),
                FieldType::Url => {
                    let lower = text.trim().to_lowercase();
                    match lower.strip_suffix('/') {
                        Some(without) => without.to_owned(),
                        None => lower,
                    }
                }
                _ => fold_text(&text),
            };
            if !key.is_empty() {
                keys.push(key);
            }
        }
    }
    keys
}

/// Plain human text of a stored value, for display names, search text and tables.
pub fn display_text(stored: &Value) -> String {
    match stored {
        Value::Null => String::new(),
        Value::String(text) => text.clone(),
        Value::Number(number) => number_text(number),
        Value::Bool(flag) => flag.to_string(),
        Value::Array(items) => {
            let mut out = String::new();
            for item in items {
                let text = display_text(item);
                if !text.is_empty() {
                    if !out.is_empty() {
                        out.push_str(", ");
                    }
                    out.push_str(&text);
                }
            }
            out
        }
        Value::Object(map) => {
            // A phone entry shows its number; its type is a label, not content.
            if let Some(number) = map.get("number") {
                return display_text(number);
            }
            let mut out = String::new();
            for part in ADDRESS_PARTS {
                if let Some(Value::String(text)) = map.get(part) {
                    let text = text.trim();
                    if !text.is_empty() {
                        if !out.is_empty() {
                            out.push_str(", ");
                        }
                        out.push_str(text);
                    }
                }
            }
            out
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Shared helpers
// ---------------------------------------------------------------------------------------------

fn is_blank(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::String(text) => text.trim().is_empty(),
        Value::Array(items) => items.iter().all(is_blank),
        Value::Object(map) => map.values().all(is_blank),
        Value::Number(_) | Value::Bool(_) => false,
    }
}

fn parse_scalar_json(
    field: &FieldDef,
    raw: &Value,
    opts: &ValueOptions,
) -> Result<Option<Value>, ValueError> {
    let field_type = field.field_type;
    match raw {
        Value::Bool(flag) => match field_type {
            FieldType::Boolean => Ok(Some(Value::Bool(*flag))),
            FieldType::Text | FieldType::LongText | FieldType::Select => {
                parse_text(field, if *flag { "true" } else { "false" }, opts)
            }
            _ => Err(invalid(field_type)),
        },
        Value::Number(number) => match field_type {
            FieldType::Number | FieldType::Currency => normalise_json_number(number)
                .map(|n| Some(Value::Number(n)))
                .ok_or_else(|| invalid(field_type)),
            FieldType::Date => number
                .as_f64()
                .and_then(excel_serial_date)
                .map(|date| Some(Value::String(format_date(date))))
                .ok_or_else(|| invalid(field_type)),
            FieldType::Datetime => number
                .as_f64()
                .and_then(excel_serial_datetime)
                .and_then(format_datetime)
                .map(|text| Some(Value::String(text)))
                .ok_or_else(|| invalid(field_type)),
            FieldType::Boolean => match number.as_f64() {
                Some(0.0) => Ok(Some(Value::Bool(false))),
                Some(1.0) => Ok(Some(Value::Bool(true))),
                _ => Err(invalid(field_type)),
            },
            _ => parse_text(field, &number_text(number), opts),
        },
        Value::Object(_) if is_blank(raw) => Ok(None),
        _ => Err(invalid(field_type)),
    }
}

#[cfg(test)]
mod tests {
    use super::test_support::*;

    // ----- empties -------------------------------------------------------------------------

    #[test]
    fn empty_values_are_none_for_every_type() {
        let types = [
            FieldType::Text,
            FieldType::LongText,
            FieldType::Number,
            FieldType::Currency,
            FieldType::Email,
            FieldType::Phone,
            FieldType::Url,
            FieldType::Date,
            FieldType::Datetime,
            FieldType::Boolean,
            FieldType::Select,
            FieldType::MultiSelect,
            FieldType::Reference,
            FieldType::Address,
        ];
        for field_type in types {
            let f = select(field_type, &["A"]);
            for raw in [json!(null), json!(""), json!("  \t\n "), json!([])] {
                assert_eq!(
                    parse_json(&f, &raw, &opts()),
                    Ok(None),
                    "{field_type:?} {raw}"
                );
            }
            assert_eq!(parse_text(&f, " \u{a0} ", &opts()), Ok(None));
            assert_eq!(parse_json(&f, &json!({}), &opts()), Ok(None));
        }
        let address = field(FieldType::Address);
        assert_eq!(
            parse_json(&address, &json!({"street": " ", "city": null}), &opts()),
            Ok(None)
        );
        let phones = field(FieldType::Phone);
        assert_eq!(
            parse_json(&phones, &json!({"number": "", "type": "Work"}), &opts()),
            Ok(None)
        );
        assert_eq!(parse_text(&phones, " ; / ", &opts()), Ok(None));
    }

    // ----- display text and match keys ----------------------------------------------------

    #[test]
    fn display_text_of_stored_values() {
        assert_eq!(display_text(&json!("Ada")), "Ada");
        assert_eq!(display_text(&json!(12)), "12");
        assert_eq!(display_text(&json!(12.0)), "12");
        assert_eq!(display_text(&json!(12.5)), "12.5");
        assert_eq!(display_text(&json!(true)), "true");
        assert_eq!(display_text(&json!(false)), "false");
        assert_eq!(display_text(&json!(null)), "");
        assert_eq!(
            display_text(&json!([
                phone("+12125550100", "Work"),
                phone("555-123-4567", "Home")
            ])),
            "+12125550100, 555-123-4567"
        );
        assert_eq!(display_text(&json!(["Alpha", "Beta"])), "Alpha, Beta");
        assert_eq!(
            display_text(
                &json!({"zip": "62701", "street": "1 Main St", "city": "Springfield", "state": ""})
            ),
            "1 Main St, Springfield, 62701"
        );
    }

    #[test]
    fn match_keys_per_type() {
        assert_eq!(
            match_keys(&field(FieldType::Text), &json!("  Ada   LOVELACE\n")),
            vec!["ada lovelace"]
        );
        assert_eq!(
            match_keys(&field(FieldType::Reference), &json!("ÉCOLE Ltd")),
            vec!["école ltd"]
        );
        assert_eq!(
            match_keys(&field(FieldType::Number), &json!(1234)),
            vec!["1234"]
        );
        assert_eq!(
            match_keys(&field(FieldType::Currency), &json!(12.0)),
            vec!["12"]
        );
        assert_eq!(
            match_keys(&field(FieldType::Currency), &json!(12.5)),
            vec!["12.5"]
        );
        assert_eq!(
            match_keys(&field(FieldType::Email), &json!("Ada@Example.com")),
            vec!["ada@example.com"]
        );
        assert_eq!(
            match_keys(&field(FieldType::Date), &json!("2024-01-15")),
            vec!["2024-01-15"]
        );
        assert_eq!(
            match_keys(&field(FieldType::Datetime), &json!("2024-01-15T10:30:00Z")),
            vec!["2024-01-15T10:30:00Z"]
        );
        assert_eq!(
            match_keys(&field(FieldType::Boolean), &json!(false)),
            vec!["false"]
        );
        assert_eq!(
            match_keys(
                &select(FieldType::MultiSelect, &["A"]),
                &json!(["Alpha", "Beta", "alpha"])
            ),
            vec!["alpha", "beta"]
        );
        assert_eq!(
            match_keys(
                &field(FieldType::Address),
                &json!({"street": "1 Main St", "city": "Springfield"})
            ),
            vec!["1 main st, springfield"]
        );
        assert!(match_keys(&field(FieldType::Text), &json!(null)).is_empty());
        assert!(match_keys(&field(FieldType::Text), &json!("  ")).is_empty());
        assert!(match_keys(&field(FieldType::MultiSelect), &json!([])).is_empty());
        assert!(match_keys(&field(FieldType::Address), &json!({})).is_empty());
    }

    #[test]
    fn stored_values_parse_to_themselves() {
        let cases: Vec<(FieldDef, &str)> = vec![
            (field(FieldType::Text), " Ada "),
            (field(FieldType::Number), "1.234,56 €"),
            (field(FieldType::Number), "99999999999999999999"),
            (field(FieldType::Currency), "(12.50)"),
            (field(FieldType::Email), "Ada <Ada@Example.com>"),
            (
                field(FieldType::Phone),
                "+1 (212) 555-0100 x7; 555-123-4567",
            ),
            (field(FieldType::Url), "example.com/a b"),
            (field(FieldType::Date), "Jan 15, 2024"),
            (field(FieldType::Datetime), "2024-01-15T12:30:00.5+02:00"),
            (field(FieldType::Boolean), "oui"),
            (select(FieldType::Select, &["Done"]), "done"),
            (select(FieldType::MultiSelect, &["A", "B"]), "b, a"),
            (field(FieldType::Reference), "42"),
            (field(FieldType::Address), "1 Main St"),
        ];
        for (f, raw) in cases {
            let stored = ok_with(&f, raw, &opts());
            assert_eq!(
                parse_json(&f, &stored, &opts()),
                Ok(Some(stored.clone())),
                "{:?} {raw:?}",
                f.field_type
            );
        }
        let address = field(FieldType::Address);
        let stored = parse_json(
            &address,
            &json!({"line1": "1 Main St", "zipcode": "62701"}),
            &opts(),
        )
        .unwrap()
        .unwrap();
        assert_eq!(
            parse_json(&address, &stored, &opts()),
            Ok(Some(stored.clone()))
        );
    }
}
