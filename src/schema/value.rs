//! Typed values: the one place that turns a raw value into the stored value of a field, and
//! that reads match keys and display text back out of stored values.
//!
//! In: a [`FieldDef`], a raw value — a `serde_json::Value` from API/CLI bodies ([`parse_json`]) or
//! a `&str` cell from CSV/Excel imports ([`parse_text`]) — and [`ValueOptions`] (default phone
//! region, whether `03/04/2024` is day-first).
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
//! shared state is the `phonenumber` crate's metadata database with its regex cache: one per core
//! (see [`phone_database`]), each sized so that numbers from many countries do not make it
//! recompile regexes on every call.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{OnceLock, PoisonError};

use chrono::{Datelike, Days, NaiveDate, NaiveDateTime, NaiveTime, TimeDelta, Timelike};
use phonenumber::country::Id as Region;
use phonenumber::metadata::{DATABASE, Database};
use phonenumber::{Mode, PhoneNumber};
use serde_json::{Map, Number, Value};
use url::{Host, Url};

use super::{ADDRESS_PARTS, DEFAULT_PHONE_TYPES, FieldDef, FieldType};

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
}

impl Default for ValueOptions {
    fn default() -> Self {
        ValueOptions {
            default_region: Region::US,
            day_first: false,
        }
    }
}

const TEXT_MAX_CHARS: usize = 1_000;
const LONG_TEXT_MAX_CHARS: usize = 100_000;
const REFERENCE_MAX_CHARS: usize = 1_000;
const ADDRESS_PART_MAX_CHARS: usize = 1_000;

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
            parse_number_text(text, true).ok_or_else(|| ValueError::new(INVALID_NUMBER))?,
        ),
        FieldType::Currency => Value::Number(
            parse_number_text(text, false).ok_or_else(|| ValueError::new(INVALID_CURRENCY))?,
        ),
        FieldType::Email => parse_email(text)?,
        FieldType::Phone => {
            let mut phones = Phones::new(field, opts);
            phones.add_text(text, phones.default_type)?;
            return Ok(phones.finish());
        }
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

/// Numbers as people write them: serde_json prints an integral f64 as `12.0`, which nobody types.
fn number_text(number: &Number) -> String {
    let text = number.to_string();
    match text.strip_suffix(".0") {
        Some(integral) => integral.to_owned(),
        None => text,
    }
}

fn is_blank(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::String(text) => text.trim().is_empty(),
        Value::Array(items) => items.iter().all(is_blank),
        Value::Object(map) => map.values().all(is_blank),
        Value::Number(_) | Value::Bool(_) => false,
    }
}

/// Case-insensitive equality without allocating; ASCII first because nearly every cell is ASCII.
fn eq_fold(a: &str, b: &str) -> bool {
    if a.is_ascii() && b.is_ascii() {
        a.eq_ignore_ascii_case(b)
    } else {
        a.chars()
            .flat_map(char::to_lowercase)
            .eq(b.chars().flat_map(char::to_lowercase))
    }
}

/// Trimmed, whitespace-collapsed, lower-cased text in one pass (one allocation).
fn fold_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for word in text.split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        if word.is_ascii() {
            out.extend(word.chars().map(|c| c.to_ascii_lowercase()));
        } else {
            out.extend(word.chars().flat_map(char::to_lowercase));
        }
    }
    out
}

fn check_length(text: &str, max_chars: usize) -> Result<(), ValueError> {
    // Byte length bounds the char count from above, so most values skip the count.
    if text.len() > max_chars && text.chars().count() > max_chars {
        return Err(ValueError(format!(
            "Text is longer than {max_chars} characters"
        )));
    }
    Ok(())
}

fn checked_text(text: &str, max_chars: usize) -> Result<Value, ValueError> {
    check_length(text, max_chars)?;
    Ok(Value::String(text.to_owned()))
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

// ---------------------------------------------------------------------------------------------
// Numbers
// ---------------------------------------------------------------------------------------------

const CURRENCY_SYMBOLS: [char; 5] = ['$', '€', '£', '¥', '₹'];
const CURRENCY_CODES: [&str; 4] = ["CHF", "USD", "EUR", "GBP"];
/// Stands for every grouping-only separator (spaces, apostrophes) in the separator list.
const GROUP: u8 = b' ';
const MAX_NUMBER_DIGITS: usize = 64;
const MAX_NUMBER_SEPARATORS: usize = 32;
/// 2^63: the first f64 that no longer fits an i64.
const I64_LIMIT: f64 = 9_223_372_036_854_775_808.0;

fn normalise_f64(value: f64) -> Option<Number> {
    if !value.is_finite() {
        return None;
    }
    if value.fract() == 0.0 && (-I64_LIMIT..I64_LIMIT).contains(&value) {
        // Integral values compare and print as integers, whatever notation they came in.
        return Some(Number::from(value as i64));
    }
    Number::from_f64(value)
}

fn normalise_json_number(number: &Number) -> Option<Number> {
    if number.is_i64() {
        return Some(number.clone());
    }
    normalise_f64(number.as_f64()?)
}

fn strip_currency_prefix(text: &str) -> Option<&str> {
    if let Some(rest) = text.strip_prefix(CURRENCY_SYMBOLS) {
        return Some(rest);
    }
    let head = text.get(..3)?;
    CURRENCY_CODES
        .iter()
        .any(|code| head.eq_ignore_ascii_case(code))
        .then(|| &text[3..])
}

fn strip_currency_suffix(text: &str) -> Option<&str> {
    if let Some(rest) = text.strip_suffix(CURRENCY_SYMBOLS) {
        return Some(rest);
    }
    let split = text.len().checked_sub(3)?;
    let tail = text.get(split..)?;
    CURRENCY_CODES
        .iter()
        .any(|code| tail.eq_ignore_ascii_case(code))
        .then(|| &text[..split])
}

/// Returns (is negative, rest) for a leading sign.
fn strip_sign_prefix(text: &str) -> Option<(bool, &str)> {
    if let Some(rest) = text.strip_prefix(['-', '\u{2212}']) {
        Some((true, rest))
    } else {
        text.strip_prefix('+').map(|rest| (false, rest))
    }
}

/// A number as people type it in spreadsheets: currency marks, grouping, either decimal mark,
/// accounting parentheses. `allow_percent` drops a trailing `%` (the number is kept as written,
/// `50%` is 50, so a column mixing `15` and `15%` stays consistent).
fn parse_number_text(text: &str, allow_percent: bool) -> Option<Number> {
    let mut rest = text.trim();
    let mut negative = false;
    let mut signed = false;
    let mut currency = false;
    let mut open_paren = false;
    let mut close_paren = false;
    let mut percent = false;
    loop {
        if !signed && let Some((minus, after)) = strip_sign_prefix(rest) {
            negative = minus;
            signed = true;
            rest = after.trim_start();
        } else if !currency && let Some(after) = strip_currency_prefix(rest) {
            currency = true;
            rest = after.trim_start();
        } else if !open_paren && let Some(after) = rest.strip_prefix('(') {
            open_paren = true;
            rest = after.trim_start();
        } else {
            break;
        }
    }
    loop {
        if open_paren
            && !close_paren
            && let Some(before) = rest.strip_suffix(')')
        {
            close_paren = true;
            rest = before.trim_end();
        } else if !currency && let Some(before) = strip_currency_suffix(rest) {
            currency = true;
            rest = before.trim_end();
        } else if allow_percent
            && !percent
            && let Some(before) = rest.strip_suffix('%')
        {
            percent = true;
            rest = before.trim_end();
        } else if !signed && let Some(before) = rest.strip_suffix('-') {
            // Some accounting exports put the minus last: `1234-`.
            negative = true;
            signed = true;
            rest = before.trim_end();
        } else {
            break;
        }
    }
    // `(-5)` is not a way anyone writes -5 or 5; refuse rather than guess.
    if open_paren != close_paren || (open_paren && signed) {
        return None;
    }
    let magnitude = parse_unsigned(rest)?;
    if !(negative || open_paren) {
        return Some(magnitude);
    }
    match magnitude.as_i64() {
        Some(integer) => Some(Number::from(-integer)),
        None => Number::from_f64(-magnitude.as_f64()?),
    }
}

fn parse_scientific(core: &str) -> Option<Number> {
    let bytes = core.as_bytes();
    let starts_well = bytes
        .first()
        .is_some_and(|b| b.is_ascii_digit() || *b == b'.');
    let only_number_chars = bytes
        .iter()
        .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'+' | b'-'));
    if !starts_well || !only_number_chars {
        return None;
    }
    normalise_f64(core.parse().ok()?)
}

/// Digits with grouping and at most one decimal mark, no sign.
fn parse_unsigned(core: &str) -> Option<Number> {
    if core.bytes().any(|b| b == b'e' || b == b'E') {
        return parse_scientific(core);
    }
    let mut digits = [0u8; MAX_NUMBER_DIGITS];
    let mut digit_count = 0;
    // (kind, number of digits before it): where each separator sits, to decide what it means.
    let mut seps = [(0u8, 0usize); MAX_NUMBER_SEPARATORS];
    let mut sep_count = 0;
    let mut after_sep = false;
    for c in core.chars() {
        if c.is_ascii_digit() {
            *digits.get_mut(digit_count)? = c as u8;
            digit_count += 1;
            after_sep = false;
            continue;
        }
        let kind = match c {
            '.' => b'.',
            ',' => b',',
            ' ' | '\u{a0}' | '\u{202f}' | '\u{2009}' | '\'' | '\u{2019}' => GROUP,
            _ => return None,
        };
        // Only a decimal mark may lead (`.5`); two separators in a row are a typo, not a number.
        if after_sep || (digit_count == 0 && kind == GROUP) {
            return None;
        }
        *seps.get_mut(sep_count)? = (kind, digit_count);
        sep_count += 1;
        after_sep = true;
    }
    if digit_count == 0 || after_sep {
        return None;
    }
    let digits = &digits[..digit_count];
    let seps = &seps[..sep_count];
    let decimal = decimal_separator(seps, digits)?;
    let int_len = decimal.map_or(digit_count, |i| seps[i].1);
    check_grouping(seps, decimal, int_len)?;
    let (int_digits, frac_digits) = digits.split_at(int_len);

    if frac_digits.iter().all(|&d| d == b'0') {
        let integer = int_digits.iter().try_fold(0i64, |acc, &d| {
            acc.checked_mul(10)?.checked_add(i64::from(d - b'0'))
        });
        if let Some(integer) = integer {
            return Some(Number::from(integer));
        }
    }
    let mut buf = [0u8; MAX_NUMBER_DIGITS + 2];
    let mut len = 0;
    if int_digits.is_empty() {
        buf[0] = b'0';
        len = 1;
    }
    buf[len..len + int_digits.len()].copy_from_slice(int_digits);
    len += int_digits.len();
    buf[len] = b'.';
    len += 1;
    buf[len..len + frac_digits.len()].copy_from_slice(frac_digits);
    len += frac_digits.len();
    let text = std::str::from_utf8(&buf[..len]).ok()?;
    normalise_f64(text.parse().ok()?)
}

/// Which separator (index into `seps`) is the decimal mark. `None` inside means "no decimal
/// mark"; the outer `None` means the separators cannot form a number.
fn decimal_separator(seps: &[(u8, usize)], digits: &[u8]) -> Option<Option<usize>> {
    let last_of = |kind: u8| seps.iter().rposition(|s| s.0 == kind);
    let count_of = |kind: u8| seps.iter().filter(|s| s.0 == kind).count();
    match (last_of(b'.'), last_of(b',')) {
        (None, None) => Some(None),
        // Both marks: the later one is decimal, so it must be single (and thus after the other).
        (Some(dot), Some(comma)) => {
            let index = dot.max(comma);
            (count_of(seps[index].0) == 1).then_some(Some(index))
        }
        (Some(index), None) | (None, Some(index)) => {
            if count_of(seps[index].0) > 1 {
                return Some(None);
            }
            let position = seps[index].1;
            let group_start = index.checked_sub(1).map_or(0, |prev| seps[prev].1);
            let next = seps.get(index + 1).map_or(digits.len(), |s| s.1);
            // `1,234` and `1.234` are thousands; `0.750` is not, as no group starts with a zero.
            let thousands = (1..=3).contains(&(position - group_start))
                && next - position == 3
                && digits[0] != b'0';
            Some(if thousands { None } else { Some(index) })
        }
    }
}

/// Thousands groups: the first 1–3 digits, then groups of 3 (or 2, for Indian lakh/crore
/// grouping), the last one of exactly 3 digits, all before the decimal mark.
fn check_grouping(seps: &[(u8, usize)], decimal: Option<usize>, int_len: usize) -> Option<()> {
    let mut previous = None;
    for (index, &(_, position)) in seps.iter().enumerate() {
        if Some(index) == decimal {
            continue;
        }
        if position > int_len {
            return None;
        }
        let group = position - previous.unwrap_or(0);
        let allowed = if previous.is_none() { 1..=3 } else { 2..=3 };
        if !allowed.contains(&group) {
            return None;
        }
        previous = Some(position);
    }
    match previous {
        Some(last) if int_len - last != 3 => None,
        _ => Some(()),
    }
}

// ---------------------------------------------------------------------------------------------
// Email and URL
// ---------------------------------------------------------------------------------------------

fn parse_email(text: &str) -> Result<Value, ValueError> {
    // `Ada <ada@example.com>` is how mail clients copy addresses; keep only the address.
    let address = match text.strip_suffix('>').and_then(|t| t.rsplit_once('<')) {
        Some((_, inner)) => inner.trim(),
        None => text,
    };
    let address = match address.get(..7) {
        Some(scheme) if scheme.eq_ignore_ascii_case("mailto:") => address[7..].trim(),
        _ => address,
    };
    // A CRM address must be deliverable on the internet: a dotted domain, no `[1.2.3.4]`.
    let options = email_address::Options::default()
        .without_display_text()
        .without_domain_literal()
        .with_required_tld();
    email_address::EmailAddress::parse_with_options(address, options)
        .map_err(|_| ValueError::new(INVALID_EMAIL))?;
    Ok(Value::String(address.to_lowercase()))
}

/// Length of a syntactically valid URL scheme before the first `:`, if there is one.
fn scheme_len(text: &str) -> Option<usize> {
    let colon = text.find(':')?;
    let scheme = &text[..colon];
    let mut chars = scheme.chars();
    let valid = chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    valid.then_some(colon)
}

fn parse_url(text: &str) -> Result<Value, ValueError> {
    let err = || ValueError::new(INVALID_URL);
    let parsed = match scheme_len(text) {
        Some(len) if text[len..].starts_with("://") => Url::parse(text),
        // `mailto:x`, `javascript:x` carry a scheme of their own; `localhost:8080` is a port.
        Some(len) if !text[len + 1..].starts_with(|c: char| c.is_ascii_digit()) => {
            return Err(err());
        }
        _ => Url::parse(&format!("https://{text}")),
    }
    .map_err(|_| err())?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(err());
    }
    let host_ok = match parsed.host() {
        Some(Host::Domain(domain)) => {
            let domain = domain.strip_suffix('.').unwrap_or(domain);
            domain == "localhost"
                || (domain.contains('.') && domain.split('.').all(|label| !label.is_empty()))
        }
        // The url crate reads `3` or `1.2` as IPv4 (`0.0.0.3`); only a dotted quad as typed is
        // meant as an address.
        Some(Host::Ipv4(ip)) => text.contains(&ip.to_string()),
        Some(Host::Ipv6(_)) => true,
        None => false,
    };
    if !host_ok {
        return Err(err());
    }
    Ok(Value::String(parsed.into()))
}

// ---------------------------------------------------------------------------------------------
// Phones
// ---------------------------------------------------------------------------------------------

/// Accumulates the numbers of one phone value, dropping repeats by match key.
struct Phones<'f> {
    field: &'f FieldDef,
    default_type: &'f str,
    region: Region,
    items: Vec<Value>,
    keys: Vec<String>,
}

impl<'f> Phones<'f> {
    fn new(field: &'f FieldDef, opts: &ValueOptions) -> Self {
        let default_type = canonical_phone_type(field, "Other").unwrap_or_else(|| {
            field
                .value_types
                .first()
                .map_or(DEFAULT_PHONE_TYPES[0], String::as_str)
        });
        Phones {
            field,
            default_type,
            region: opts.default_region,
            items: Vec::new(),
            keys: Vec::new(),
        }
    }

    /// One cell may hold several numbers: `a; b`, `a / b` or one per line.
    fn add_text(&mut self, text: &str, kind: &'f str) -> Result<(), ValueError> {
        for line in text.split(['\n', '\r', ';']) {
            for part in line.split(" / ") {
                self.add_number(part, kind)?;
            }
        }
        Ok(())
    }

    fn add_number(&mut self, text: &str, kind: &'f str) -> Result<(), ValueError> {
        let text = text.trim();
        // What is left around separators (`a; /`, a lone `-` placeholder) holds no number.
        if !text.chars().any(char::is_alphanumeric) {
            return Ok(());
        }
        let (number, key) = normalise_phone(text, self.region)?;
        if self.keys.contains(&key) {
            return Ok(());
        }
        let mut entry = Map::new();
        entry.insert("number".to_owned(), Value::String(number));
        entry.insert("type".to_owned(), Value::String(kind.to_owned()));
        self.items.push(Value::Object(entry));
        self.keys.push(key);
        Ok(())
    }

    fn add_json(&mut self, value: &Value, nested: bool) -> Result<(), ValueError> {
        match value {
            Value::Null => Ok(()),
            Value::String(text) => self.add_text(text, self.default_type),
            Value::Number(number) => self.add_number(&number_text(number), self.default_type),
            Value::Object(map) => self.add_object(map),
            Value::Array(items) if !nested => {
                for item in items {
                    self.add_json(item, true)?;
                }
                Ok(())
            }
            Value::Array(_) | Value::Bool(_) => Err(ValueError::new(INVALID_PHONE)),
        }
    }

    fn add_object(&mut self, map: &Map<String, Value>) -> Result<(), ValueError> {
        let mut number = None;
        let mut kind = None;
        for (key, value) in map {
            if key.eq_ignore_ascii_case("number") {
                number = Some(value);
            } else if key.eq_ignore_ascii_case("value") {
                number = number.or(Some(value));
            } else if key.eq_ignore_ascii_case("type") {
                kind = Some(value);
            } else {
                return Err(ValueError(format!(
                    "Unknown phone part '{key}' (expected number, type)"
                )));
            }
        }
        let number = match number {
            None | Some(Value::Null) => return Ok(()),
            Some(Value::String(text)) if text.trim().is_empty() => return Ok(()),
            Some(Value::String(text)) => std::borrow::Cow::Borrowed(text.as_str()),
            Some(Value::Number(n)) => std::borrow::Cow::Owned(number_text(n)),
            Some(_) => return Err(ValueError::new(INVALID_PHONE)),
        };
        let kind = match kind {
            None | Some(Value::Null) => self.default_type,
            Some(Value::String(text)) if text.trim().is_empty() => self.default_type,
            Some(Value::String(text)) => canonical_phone_type(self.field, text.trim())
                .ok_or_else(|| unknown_phone_type(self.field, text.trim()))?,
            Some(other) => return Err(unknown_phone_type(self.field, &other.to_string())),
        };
        self.add_number(&number, kind)
    }

    fn finish(self) -> Option<Value> {
        (!self.items.is_empty()).then_some(Value::Array(self.items))
    }
}

fn parse_phone_json(
    field: &FieldDef,
    raw: &Value,
    opts: &ValueOptions,
) -> Result<Option<Value>, ValueError> {
    let mut phones = Phones::new(field, opts);
    phones.add_json(raw, false)?;
    Ok(phones.finish())
}

fn canonical_phone_type<'f>(field: &'f FieldDef, wanted: &str) -> Option<&'f str> {
    if field.value_types.is_empty() {
        DEFAULT_PHONE_TYPES
            .iter()
            .copied()
            .find(|kind| eq_fold(kind, wanted))
    } else {
        field
            .value_types
            .iter()
            .find(|kind| eq_fold(kind.trim(), wanted))
            .map(String::as_str)
    }
}

fn unknown_phone_type(field: &FieldDef, wanted: &str) -> ValueError {
    ValueError(format!(
        "Unknown phone type '{wanted}' (expected one of: {})",
        field.phone_types().join(", ")
    ))
}

/// A phone number split into its dialable part and an optional extension, with only phone
/// characters in it.
struct PhoneShape<'a> {
    main: &'a str,
    digits: usize,
    extension: Option<&'a str>,
}

fn phone_shape(text: &str) -> Option<PhoneShape<'_>> {
    let (main, extension) = match text.find(|c: char| c.is_ascii_alphabetic() || c == '#') {
        Some(at) => (&text[..at], Some(extension_digits(&text[at..])?)),
        None => (text, None),
    };
    let mut digits = 0;
    let mut plus_seen = false;
    for c in main.chars() {
        match c {
            '0'..='9' => digits += 1,
            '+' if !plus_seen && digits == 0 => plus_seen = true,
            ' ' | '\u{a0}' | '-' | '.' | '(' | ')' | '/' => {}
            _ => return None,
        }
    }
    (digits > 0).then_some(PhoneShape {
        main: main.trim(),
        digits,
        extension,
    })
}

/// The digits of `x123`, `ext. 123`, `extension 123` or `#123`.
fn extension_digits(tail: &str) -> Option<&str> {
    let mut rest = None;
    for marker in ["extension", "ext", "x", "#"] {
        if let Some(head) = tail.get(..marker.len())
            && head.eq_ignore_ascii_case(marker)
        {
            rest = Some(&tail[marker.len()..]);
            break;
        }
    }
    let rest = rest?;
    let rest = rest.strip_prefix('.').unwrap_or(rest);
    let rest = rest.strip_prefix(':').unwrap_or(rest).trim();
    (!rest.is_empty() && rest.bytes().all(|b| b.is_ascii_digit())).then_some(rest)
}

/// `+` and the digits of `text`: the key of a number the phone library cannot vouch for.
fn plus_digits(text: &str) -> String {
    let mut key = String::with_capacity(text.len() + 1);
    key.push('+');
    key.extend(text.chars().filter(char::is_ascii_digit));
    key
}

/// Size of each phone database's regex cache. The `phonenumber` crate compiles its regexes
/// lazily into an LRU (100 by default); numbers from more than a handful of countries then evict
/// each other and every parse recompiles regexes (measured: 3.8 ms instead of 12 µs per number
/// over 30 countries). All 1,519 regexes of the bundled metadata would cost about 150 MB once
/// every region had been seen; 512 hold dozens of countries' worth for about a third of that.
const PHONE_REGEX_CACHE_CAPACITY: usize = 512;

/// Independent phone databases, at most one per core up to this many.
const MAX_PHONE_DATABASES: usize = 8;

/// The libphonenumber metadata the `phonenumber` crate bundles (same version, Apache-2.0,
/// `assets/phonenumber/`), parsed here once per database slot.
const PHONE_METADATA_XML: &str = include_str!("../../assets/phonenumber/PhoneNumberMetadata.xml");

/// The crate's database keeps its regex cache behind one mutex that is held for the whole of
/// every regex match, so phone validation on several threads ran one thread at a time. Each
/// slot here is a database of its own (its own cache and mutex), built on first use; a thread
/// keeps one slot for its life, threads spread over the slots round-robin. Memory: one parsed
/// metadata (a few MB) and one regex cache per slot in use.
static PHONE_DATABASES: [OnceLock<Database>; MAX_PHONE_DATABASES] =
    [const { OnceLock::new() }; MAX_PHONE_DATABASES];
static NEXT_PHONE_SLOT: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    static PHONE_SLOT: usize = {
        let slots = std::thread::available_parallelism()
            .map_or(1, usize::from)
            .clamp(1, MAX_PHONE_DATABASES);
        NEXT_PHONE_SLOT.fetch_add(1, Ordering::Relaxed) % slots
    };
}

/// This thread's phone database.
fn phone_database() -> &'static Database {
    let slot = PHONE_SLOT.with(|slot| *slot);
    PHONE_DATABASES[slot].get_or_init(|| {
        // The XML is the crate's own bundled file, checked by `bundled_phone_metadata_parses`;
        // should it ever fail, the crate's shared database still gives the same answers.
        match Database::parse(PHONE_METADATA_XML) {
            Ok(database) => {
                database
                    .cache()
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .set_capacity(PHONE_REGEX_CACHE_CAPACITY);
                database
            }
            Err(error) => {
                tracing::warn!("the bundled phone metadata does not parse ({error}): phone validation shares one database");
                DATABASE.clone()
            }
        }
    })
}

fn parse_valid_phone(text: &str, region: Region) -> Option<PhoneNumber> {
    let database = phone_database();
    phonenumber::parse_with(database, Some(region), text)
        .ok()
        .filter(|number| phonenumber::is_valid_with(database, number))
}

/// Returns (stored number, match key). Valid numbers become E.164 (plus ` x123` for an
/// extension); plausible but unverifiable ones (fictional 555 numbers, unknown ranges) are kept
/// as written so imports do not lose them.
fn normalise_phone(text: &str, region: Region) -> Result<(String, String), ValueError> {
    let shape = phone_shape(text).ok_or_else(|| ValueError::new(INVALID_PHONE))?;
    let (number, mut key) = match parse_valid_phone(shape.main, region) {
        Some(parsed) => {
            let e164 = parsed
                .format()
                .database(phone_database())
                .mode(Mode::E164)
                .to_string();
            let mut number = e164.clone();
            if let Some(extension) = shape.extension {
                number.push_str(" x");
                number.push_str(extension);
            }
            (number, e164)
        }
        None if (7..=15).contains(&shape.digits) => (text.to_owned(), plus_digits(shape.main)),
        None => return Err(ValueError::new(INVALID_PHONE)),
    };
    if let Some(extension) = shape.extension {
        // Two people behind one switchboard are different contacts.
        key.push('x');
        key.push_str(extension);
    }
    Ok((number, key))
}

fn phone_key(number: &str, region: Region) -> Option<String> {
    let number = number.trim();
    if number.is_empty() {
        return None;
    }
    // Stored valid numbers are already E.164, and `+digits` is its own key either way.
    if let Some(digits) = number.strip_prefix('+')
        && !digits.is_empty()
        && digits.bytes().all(|b| b.is_ascii_digit())
    {
        return Some(number.to_owned());
    }
    match normalise_phone(number, region) {
        Ok((_, key)) => Some(key),
        Err(_) => {
            let key = plus_digits(number);
            Some(if key.len() > 1 {
                key
            } else {
                fold_text(number)
            })
        }
    }
}

fn for_each_phone_number(stored: &Value, visit: &mut impl FnMut(&str)) {
    match stored {
        Value::String(number) => visit(number),
        Value::Object(map) => {
            if let Some(Value::String(number)) = map.get("number") {
                visit(number);
            }
        }
        Value::Array(items) => {
            for item in items {
                if !item.is_array() {
                    for_each_phone_number(item, visit);
                }
            }
        }
        _ => {}
    }
}

// ---------------------------------------------------------------------------------------------
// Booleans and selects
// ---------------------------------------------------------------------------------------------

/// Lower-case words people put in checkbox columns, in the languages we import most.
const BOOLEAN_WORDS: [(&str, bool); 25] = [
    ("true", true),
    ("yes", true),
    ("y", true),
    ("1", true),
    ("on", true),
    ("t", true),
    ("x", true),
    ("checked", true),
    ("ja", true),
    ("oui", true),
    ("sí", true),
    ("si", true),
    ("wahr", true),
    ("vrai", true),
    ("false", false),
    ("no", false),
    ("n", false),
    ("0", false),
    ("off", false),
    ("f", false),
    ("unchecked", false),
    ("nein", false),
    ("non", false),
    ("falsch", false),
    ("faux", false),
];

fn parse_bool_text(text: &str) -> Option<bool> {
    if text.len() > "unchecked".len() {
        return None;
    }
    BOOLEAN_WORDS
        .iter()
        .find(|(word, _)| eq_fold(text, word))
        .map(|&(_, flag)| flag)
}

fn find_option<'f>(field: &'f FieldDef, wanted: &str) -> Option<&'f str> {
    field
        .options
        .iter()
        .find(|option| eq_fold(option.trim(), wanted))
        .map(String::as_str)
}

fn not_an_option(field: &FieldDef, wanted: &str) -> ValueError {
    ValueError(format!(
        "Value '{wanted}' is not an option (expected one of: {})",
        field.options.join(", ")
    ))
}

fn multi_select_value(picked: Vec<&str>) -> Option<Value> {
    (!picked.is_empty()).then(|| {
        Value::Array(
            picked
                .into_iter()
                .map(|option| Value::String(option.to_owned()))
                .collect(),
        )
    })
}

fn pick_option<'f>(
    field: &'f FieldDef,
    text: &str,
    picked: &mut Vec<&'f str>,
) -> Result<(), ValueError> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(());
    }
    let option = find_option(field, text).ok_or_else(|| not_an_option(field, text))?;
    if !picked.contains(&option) {
        picked.push(option);
    }
    Ok(())
}

fn parse_multi_select_text(field: &FieldDef, text: &str) -> Result<Option<Value>, ValueError> {
    // An option may itself contain a separator (`Sales, EMEA`); a whole match wins over a split.
    if let Some(option) = find_option(field, text) {
        return Ok(multi_select_value(vec![option]));
    }
    let mut picked = Vec::new();
    for part in text.split([';', ',', '|']) {
        pick_option(field, part, &mut picked)?;
    }
    Ok(multi_select_value(picked))
}

fn parse_multi_select_json(field: &FieldDef, raw: &Value) -> Result<Option<Value>, ValueError> {
    let items = match raw {
        Value::Array(items) => items,
        Value::Number(number) => return parse_multi_select_text(field, &number_text(number)),
        Value::Bool(flag) => return parse_multi_select_text(field, &flag.to_string()),
        _ if is_blank(raw) => return Ok(None),
        _ => return Err(invalid(FieldType::MultiSelect)),
    };
    let mut picked = Vec::new();
    for item in items {
        match item {
            Value::Null => {}
            Value::String(text) => pick_option(field, text, &mut picked)?,
            Value::Number(number) => pick_option(field, &number_text(number), &mut picked)?,
            Value::Bool(flag) => pick_option(field, &flag.to_string(), &mut picked)?,
            Value::Array(_) | Value::Object(_) => return Err(invalid(FieldType::MultiSelect)),
        }
    }
    Ok(multi_select_value(picked))
}

// ---------------------------------------------------------------------------------------------
// Addresses
// ---------------------------------------------------------------------------------------------

/// Accepted keys (compared ASCII case-insensitively) and the index of their part.
const ADDRESS_KEYS: [(&str, usize); 20] = [
    ("street", 0),
    ("line1", 0),
    ("address1", 0),
    ("street1", 0),
    ("street2", 1),
    ("line2", 1),
    ("address2", 1),
    ("city", 2),
    ("state", 3),
    ("region", 3),
    ("province", 3),
    ("zip", 4),
    ("postal_code", 4),
    ("postalcode", 4),
    ("postcode", 4),
    ("zipcode", 4),
    ("zip_code", 4),
    ("country", 5),
    // Some exports spell the second street line with an underscore.
    ("street_2", 1),
    ("address_2", 1),
];

fn checked_address_part(part: &str, text: &str) -> Result<Value, ValueError> {
    if text.len() > ADDRESS_PART_MAX_CHARS && text.chars().count() > ADDRESS_PART_MAX_CHARS {
        return Err(ValueError(format!(
            "Address part '{part}' is longer than {ADDRESS_PART_MAX_CHARS} characters"
        )));
    }
    Ok(Value::String(text.to_owned()))
}

fn parse_address_json(raw: &Value) -> Result<Option<Value>, ValueError> {
    let Value::Object(map) = raw else {
        return Err(invalid(FieldType::Address));
    };
    let mut parts: [Option<Value>; ADDRESS_PARTS.len()] = Default::default();
    for (key, value) in map {
        let index = ADDRESS_KEYS
            .iter()
            .find(|(alias, _)| key.trim().eq_ignore_ascii_case(alias))
            .map(|&(_, index)| index)
            .ok_or_else(|| {
                ValueError(format!(
                    "Unknown address part '{key}' (expected {})",
                    ADDRESS_PARTS.join(", ")
                ))
            })?;
        let name = ADDRESS_PARTS[index];
        let number;
        let text = match value {
            Value::Null => continue,
            Value::String(text) => text.trim(),
            Value::Number(n) => {
                number = number_text(n);
                number.as_str()
            }
            Value::Bool(_) | Value::Array(_) | Value::Object(_) => {
                return Err(ValueError(format!("Address part '{name}' must be text")));
            }
        };
        if text.is_empty() {
            continue;
        }
        if let Some(Value::String(existing)) = &parts[index]
            && existing != text
        {
            return Err(ValueError(format!("Address part '{name}' is given twice")));
        }
        parts[index] = Some(checked_address_part(name, text)?);
    }
    let mut stored = Map::new();
    for (name, part) in ADDRESS_PARTS.iter().zip(parts) {
        if let Some(part) = part {
            stored.insert((*name).to_owned(), part);
        }
    }
    Ok((!stored.is_empty()).then_some(Value::Object(stored)))
}

// ---------------------------------------------------------------------------------------------
// Dates and times
// ---------------------------------------------------------------------------------------------

/// Excel's day 0 in the 1900 date system, counting from the serials after its fake 1900-02-29.
const EXCEL_EPOCH: NaiveDate = match NaiveDate::from_ymd_opt(1899, 12, 30) {
    Some(date) => date,
    None => panic!("1899-12-30 is a date"),
};
/// Serial of 9999-12-31, the last day Excel can show.
const EXCEL_MAX_SERIAL: u32 = 2_958_465;
const EXCEL_SERIAL_RANGE: std::ops::Range<f64> = 1.0..(EXCEL_MAX_SERIAL as f64 + 1.0);

const MONTHS: [&str; 12] = [
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
];
const WEEKDAYS: [&str; 7] = [
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
];

fn excel_date(serial: u32) -> Option<NaiveDate> {
    match serial {
        // Before Excel's phantom 1900-02-29 the epoch is one day later.
        1..=59 => EXCEL_EPOCH.checked_add_days(Days::new(u64::from(serial) + 1)),
        61..=EXCEL_MAX_SERIAL => EXCEL_EPOCH.checked_add_days(Days::new(u64::from(serial))),
        // 60 is 1900-02-29, a day that never existed.
        _ => None,
    }
}

fn excel_serial_date(serial: f64) -> Option<NaiveDate> {
    if !EXCEL_SERIAL_RANGE.contains(&serial) {
        return None;
    }
    excel_date(serial.floor() as u32)
}

fn excel_serial_datetime(serial: f64) -> Option<NaiveDateTime> {
    if !EXCEL_SERIAL_RANGE.contains(&serial) {
        return None;
    }
    let day = serial.floor();
    // Excel stores times as binary fractions of a day; round so 10:30 does not become 10:29:59.999.
    let millis = ((serial - day) * 86_400_000.0).round() as i64;
    excel_date(day as u32)?
        .and_time(NaiveTime::MIN)
        .checked_add_signed(TimeDelta::milliseconds(millis))
}

fn ascii_number(bytes: &[u8]) -> Option<u32> {
    if bytes.is_empty() || bytes.len() > 9 {
        return None;
    }
    bytes.iter().try_fold(0u32, |acc, &b| {
        b.is_ascii_digit().then(|| acc * 10 + u32::from(b - b'0'))
    })
}

fn ymd(year: u32, month: u32, day: u32) -> Option<NaiveDate> {
    if !(1..=9999).contains(&year) {
        return None;
    }
    NaiveDate::from_ymd_opt(i32::try_from(year).ok()?, month, day)
}

fn format_date(date: NaiveDate) -> String {
    format!("{:04}-{:02}-{:02}", date.year(), date.month(), date.day())
}

fn format_datetime(datetime: NaiveDateTime) -> Option<String> {
    let (year, month, day) = (datetime.year(), datetime.month(), datetime.day());
    if !(1..=9999).contains(&year) {
        return None;
    }
    let (hour, minute, second) = (datetime.hour(), datetime.minute(), datetime.second());
    let millis = datetime.nanosecond() / 1_000_000;
    Some(if millis == 0 {
        format!("{year:04}-{month:02}-{day:02}T{hour:02}:{minute:02}:{second:02}Z")
    } else {
        format!("{year:04}-{month:02}-{day:02}T{hour:02}:{minute:02}:{second:02}.{millis:03}Z")
    })
}

fn month_from_word(word: &str) -> Option<u32> {
    if word.len() < 3 {
        return None;
    }
    let index = MONTHS.iter().position(|month| {
        word.eq_ignore_ascii_case(month)
            || (word.len() == 3 && word.eq_ignore_ascii_case(&month[..3]))
    });
    let index = index.or_else(|| word.eq_ignore_ascii_case("sept").then_some(8))?;
    Some(index as u32 + 1)
}

fn is_weekday(word: &str) -> bool {
    WEEKDAYS.iter().any(|day| {
        word.eq_ignore_ascii_case(day) || (word.len() == 3 && word.eq_ignore_ascii_case(&day[..3]))
    }) || ["tues", "thur", "thurs"]
        .iter()
        .any(|abbr| word.eq_ignore_ascii_case(abbr))
}

fn is_ordinal_suffix(word: &str) -> bool {
    ["st", "nd", "rd", "th"]
        .iter()
        .any(|suffix| word.eq_ignore_ascii_case(suffix))
}

#[derive(Clone, Copy)]
enum DateToken<'a> {
    /// Value and number of digits (the digit count tells a year from a day).
    Num(u32, usize),
    Word(&'a str),
}

fn year_from(value: u32, len: usize) -> Option<u32> {
    match len {
        4 => Some(value),
        // Spreadsheet convention: 00–69 are this century, 70–99 the last.
        2 if value < 70 => Some(2000 + value),
        2 => Some(1900 + value),
        _ => None,
    }
}

fn day_from(value: u32, len: usize) -> Option<u32> {
    (len <= 2).then_some(value)
}

/// A calendar date with no time: ISO, `YYYYMMDD`, `M/D/Y` or `D/M/Y`, or with a month name.
fn parse_calendar_date(text: &str, day_first: bool) -> Option<NaiveDate> {
    let bytes = text.as_bytes();
    if bytes.len() == 10 && bytes[4] == b'-' && bytes[7] == b'-' {
        // The stored form, and by far the most common input: skip the tokenizer.
        if let (Some(year), Some(month), Some(day)) = (
            ascii_number(&bytes[..4]),
            ascii_number(&bytes[5..7]),
            ascii_number(&bytes[8..]),
        ) {
            return ymd(year, month, day);
        }
    }
    if bytes.iter().all(u8::is_ascii_digit) {
        if bytes.len() != 8 {
            return None;
        }
        return ymd(
            ascii_number(&bytes[..4])?,
            ascii_number(&bytes[4..6])?,
            ascii_number(&bytes[6..])?,
        );
    }

    let mut tokens = [DateToken::Num(0, 0); 3];
    let mut count = 0;
    // (first separator char, run length) between token i and i + 1.
    let mut seps = [(0u8, 0usize); 2];
    let mut gap = (0u8, 0usize);
    let mut weekday_skipped = false;
    let mut i = 0;
    while i < bytes.len() {
        let start = i;
        let c = bytes[i];
        let token = if c.is_ascii_digit() {
            while i < bytes.len() && bytes[i].is_ascii_digit() {
                i += 1;
            }
            if i - start > 4 {
                return None;
            }
            DateToken::Num(ascii_number(&bytes[start..i])?, i - start)
        } else if c.is_ascii_alphabetic() {
            while i < bytes.len() && bytes[i].is_ascii_alphabetic() {
                i += 1;
            }
            let word = &text[start..i];
            let glued_to_number =
                count > 0 && gap.1 == 0 && matches!(tokens[count - 1], DateToken::Num(..));
            if glued_to_number && is_ordinal_suffix(word) {
                continue;
            }
            if count == 0 && !weekday_skipped && is_weekday(word) {
                weekday_skipped = true;
                continue;
            }
            DateToken::Word(word)
        } else if matches!(c, b' ' | b',' | b'.' | b'-' | b'/') {
            if count == 0 && !weekday_skipped {
                return None;
            }
            if gap.1 == 0 {
                gap.0 = c;
            }
            gap.1 += 1;
            i += 1;
            continue;
        } else {
            return None;
        };
        if count == tokens.len() {
            return None;
        }
        if count > 0 {
            seps[count - 1] = gap;
        }
        gap = (0, 0);
        tokens[count] = token;
        count += 1;
    }
    if count != 3 || gap.1 != 0 {
        return None;
    }

    match tokens {
        [
            DateToken::Num(a, a_len),
            DateToken::Num(b, b_len),
            DateToken::Num(c, c_len),
        ] => {
            // Numeric dates need one consistent single separator: `03/04-2024` is not a date.
            let [(sep1, len1), (sep2, len2)] = seps;
            if len1 != 1 || len2 != 1 || sep1 != sep2 || !matches!(sep1, b'-' | b'/' | b'.') {
                return None;
            }
            if a_len == 4 && b_len <= 2 && c_len <= 2 {
                return ymd(a, b, c);
            }
            if a_len > 2 || b_len > 2 {
                return None;
            }
            let year = year_from(c, c_len)?;
            // A part above 12 can only be the day, whatever the configured order. Dotted dates
            // (`09.01.2024`) are day-first everywhere they are written (Germany, Russia, …).
            let day_first = day_first || sep1 == b'.';
            let (month, day) = if a > 12 || (b <= 12 && day_first) {
                (b, a)
            } else {
                (a, b)
            };
            ymd(year, month, day)
        }
        [
            DateToken::Word(word),
            DateToken::Num(day, day_len),
            DateToken::Num(year, year_len),
        ] => ymd(
            year_from(year, year_len)?,
            month_from_word(word)?,
            day_from(day, day_len)?,
        ),
        [
            DateToken::Num(first, first_len),
            DateToken::Word(word),
            DateToken::Num(last, last_len),
        ] => {
            let month = month_from_word(word)?;
            if first_len == 4 {
                ymd(first, month, day_from(last, last_len)?)
            } else {
                ymd(
                    year_from(last, last_len)?,
                    month,
                    day_from(first, first_len)?,
                )
            }
        }
        _ => None,
    }
}

/// Splits `date[T| ]time` at the `T` of ISO forms or before the token holding the first `:`.
fn split_date_time(text: &str) -> Option<(&str, &str)> {
    let bytes = text.as_bytes();
    if let Some(at) = bytes
        .windows(3)
        .position(|w| w[0].is_ascii_digit() && matches!(w[1], b'T' | b't') && w[2].is_ascii_digit())
    {
        return Some((&text[..=at], &text[at + 2..]));
    }
    let colon = text.find(':')?;
    let start = text[..colon].rfind([' ', ','])? + 1;
    let date = text[..start].trim_end().trim_end_matches(',').trim_end();
    Some((date, &text[start..]))
}

fn take_digits(bytes: &[u8], at: &mut usize, min: usize, max: usize) -> Option<u32> {
    let start = *at;
    while *at < bytes.len() && *at - start < max && bytes[*at].is_ascii_digit() {
        *at += 1;
    }
    if *at - start < min {
        return None;
    }
    ascii_number(&bytes[start..*at])
}

/// Returns (is PM, rest) for a leading AM/PM marker.
fn strip_meridiem(text: &str) -> Option<(bool, &str)> {
    for (marker, pm) in [("a.m.", false), ("p.m.", true), ("am", false), ("pm", true)] {
        if let Some(head) = text.get(..marker.len())
            && head.eq_ignore_ascii_case(marker)
        {
            return Some((pm, &text[marker.len()..]));
        }
    }
    None
}

/// Offset east of UTC in seconds: `Some(None)` when no zone is written, `None` when the zone
/// is unreadable.
fn parse_zone(text: &str) -> Option<Option<i32>> {
    if text.is_empty() {
        return Some(None);
    }
    if ["z", "utc", "gmt"]
        .iter()
        .any(|zone| text.eq_ignore_ascii_case(zone))
    {
        return Some(Some(0));
    }
    let bytes = text.as_bytes();
    let sign = match bytes[0] {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let mut at = 1;
    let hours = take_digits(bytes, &mut at, 2, 2)?;
    if bytes.get(at) == Some(&b':') {
        at += 1;
    }
    let minutes = if at < bytes.len() {
        take_digits(bytes, &mut at, 2, 2)?
    } else {
        0
    };
    if at != bytes.len() || hours > 23 || minutes > 59 {
        return None;
    }
    Some(Some(sign * (hours * 3600 + minutes * 60) as i32))
}

/// `H:MM[:SS[.fff]] [AM|PM] [zone]`.
fn parse_clock(text: &str) -> Option<(NaiveTime, Option<i32>)> {
    let bytes = text.as_bytes();
    let mut at = 0;
    let mut hour = take_digits(bytes, &mut at, 1, 2)?;
    if bytes.get(at) != Some(&b':') {
        return None;
    }
    at += 1;
    let minute = take_digits(bytes, &mut at, 2, 2)?;
    let mut second = 0;
    let mut millis = 0;
    if bytes.get(at) == Some(&b':') {
        at += 1;
        second = take_digits(bytes, &mut at, 2, 2)?;
        if matches!(bytes.get(at), Some(b'.' | b',')) {
            at += 1;
            let start = at;
            while at < bytes.len() && bytes[at].is_ascii_digit() {
                at += 1;
            }
            let fraction = &bytes[start..at];
            if fraction.is_empty() {
                return None;
            }
            // Millisecond precision is what we store; finer digits are cut, not rounded, so a
            // value never moves into the next second.
            for place in 0..3 {
                millis = millis * 10 + fraction.get(place).map_or(0, |d| u32::from(d - b'0'));
            }
        }
    }
    let mut rest = text[at..].trim_start();
    if let Some((pm, after)) = strip_meridiem(rest) {
        if !(1..=12).contains(&hour) {
            return None;
        }
        hour = match (pm, hour) {
            (false, 12) => 0,
            (true, 12) => 12,
            (true, h) => h + 12,
            (false, h) => h,
        };
        rest = after.trim_start();
    }
    let offset = parse_zone(rest)?;
    let time = NaiveTime::from_hms_milli_opt(hour, minute, second, millis)?;
    Some((time, offset))
}

fn is_plain_integer(text: &str) -> bool {
    !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit())
}

fn is_plain_decimal(text: &str) -> bool {
    match text.split_once('.') {
        Some((int, frac)) => is_plain_integer(int) && is_plain_integer(frac),
        None => is_plain_integer(text),
    }
}

/// A date as written: a date-time keeps its local date (what the writer saw), not the UTC date.
fn parse_date_text(text: &str, day_first: bool) -> Option<NaiveDate> {
    if is_plain_integer(text) && text.len() != 8 {
        return if text.len() <= 7 {
            excel_date(ascii_number(text.as_bytes())?)
        } else {
            None
        };
    }
    if let Some(date) = parse_calendar_date(text, day_first) {
        return Some(date);
    }
    let (date, clock) = split_date_time(text)?;
    parse_clock(clock)?;
    parse_calendar_date(date, day_first)
}

/// A date-time in UTC; no zone means UTC, a date alone means midnight.
fn parse_datetime_text(text: &str, day_first: bool) -> Option<NaiveDateTime> {
    if is_plain_decimal(text) && text.len() != 8 {
        return excel_serial_datetime(text.parse().ok()?);
    }
    let Some((date, clock)) = split_date_time(text) else {
        return Some(parse_calendar_date(text, day_first)?.and_time(NaiveTime::MIN));
    };
    let date = parse_calendar_date(date, day_first)?;
    let (time, offset) = parse_clock(clock)?;
    let local = date.and_time(time);
    match offset {
        Some(seconds) => local.checked_sub_signed(TimeDelta::seconds(i64::from(seconds))),
        None => Some(local),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The metadata the per-thread databases parse is the crate's own: it parses, and numbers
    /// come out the same as with the crate's bundled database.
    #[test]
    fn bundled_phone_metadata_parses() {
        let ours = Database::parse(PHONE_METADATA_XML).expect("bundled metadata");
        for (text, region) in [
            ("+49 89 1234567", Region::DE),
            ("+33 1 42 68 53 00", Region::FR),
            ("(212) 555-0147", Region::US),
            ("020 7946 0958", Region::GB),
        ] {
            let theirs = phonenumber::parse_with(&DATABASE, Some(region), text).ok();
            let mine = phonenumber::parse_with(&ours, Some(region), text).ok();
            assert_eq!(mine, theirs, "{text}");
            if let (Some(mine), Some(theirs)) = (mine, theirs) {
                assert_eq!(
                    phonenumber::is_valid_with(&ours, &mine),
                    phonenumber::is_valid_with(&DATABASE, &theirs),
                    "{text}"
                );
            }
        }
        // The database phone parsing uses has a regex cache (and mutex) of its own, not the
        // crate's process-wide one, and a thread keeps the same database.
        let cache = phone_database().cache();
        assert!(!std::sync::Arc::ptr_eq(&cache, &DATABASE.cache()));
        assert!(std::sync::Arc::ptr_eq(&cache, &phone_database().cache()));
    }

    use serde_json::json;

    fn field(field_type: FieldType) -> FieldDef {
        FieldDef::of_type("f", field_type)
    }

    fn select(field_type: FieldType, options: &[&str]) -> FieldDef {
        FieldDef {
            options: options.iter().map(|o| (*o).to_owned()).collect(),
            ..field(field_type)
        }
    }

    fn opts() -> ValueOptions {
        ValueOptions::default()
    }

    fn day_first() -> ValueOptions {
        ValueOptions {
            day_first: true,
            ..ValueOptions::default()
        }
    }

    /// Parses text that must be accepted and not empty.
    fn ok(field_type: FieldType, raw: &str) -> Value {
        ok_with(&field(field_type), raw, &opts())
    }

    fn ok_with(field: &FieldDef, raw: &str, opts: &ValueOptions) -> Value {
        let text = parse_text(field, raw, opts)
            .unwrap_or_else(|e| panic!("{raw:?} rejected: {e}"))
            .unwrap_or_else(|| panic!("{raw:?} parsed as empty"));
        // Text cells and JSON strings are one path; prove they agree.
        let json = parse_json(field, &Value::String(raw.to_owned()), opts).unwrap();
        assert_eq!(json.as_ref(), Some(&text), "parse_json differs for {raw:?}");
        text
    }

    fn ok_json(field_type: FieldType, raw: Value) -> Value {
        parse_json(&field(field_type), &raw, &opts())
            .unwrap_or_else(|e| panic!("{raw} rejected: {e}"))
            .unwrap_or_else(|| panic!("{raw} parsed as empty"))
    }

    fn err(field_type: FieldType, raw: &str) -> String {
        err_with(&field(field_type), raw)
    }

    fn err_with(field: &FieldDef, raw: &str) -> String {
        match parse_text(field, raw, &opts()) {
            Err(e) => e.0,
            Ok(v) => panic!("{raw:?} accepted as {v:?}"),
        }
    }

    fn err_json(field: &FieldDef, raw: Value) -> String {
        match parse_json(field, &raw, &opts()) {
            Err(e) => e.to_string(),
            Ok(v) => panic!("{raw} accepted as {v:?}"),
        }
    }

    fn phone(number: &str, kind: &str) -> Value {
        json!({"number": number, "type": kind})
    }

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

    // ----- text ----------------------------------------------------------------------------

    #[test]
    fn text_is_trimmed_and_keeps_inner_newlines() {
        assert_eq!(
            ok(FieldType::Text, "  Ada Lovelace \n"),
            json!("Ada Lovelace")
        );
        assert_eq!(
            ok(FieldType::Text, " line 1\nline 2 "),
            json!("line 1\nline 2")
        );
        assert_eq!(
            ok(FieldType::LongText, "\tpara\n\npara\n"),
            json!("para\n\npara")
        );
    }

    #[test]
    fn text_accepts_scalars_as_text() {
        assert_eq!(ok_json(FieldType::Text, json!(42)), json!("42"));
        assert_eq!(ok_json(FieldType::Text, json!(12.5)), json!("12.5"));
        assert_eq!(ok_json(FieldType::Text, json!(3.0)), json!("3"));
        assert_eq!(ok_json(FieldType::Text, json!(true)), json!("true"));
        assert_eq!(ok_json(FieldType::LongText, json!(false)), json!("false"));
        assert_eq!(
            err_json(&field(FieldType::Text), json!(["a"])),
            "Invalid text (expected a string)"
        );
        assert_eq!(
            err_json(&field(FieldType::Text), json!({"a": "b"})),
            "Invalid text (expected a string)"
        );
    }

    #[test]
    fn text_length_limits_count_characters() {
        let exactly = "é".repeat(1_000);
        assert_eq!(ok(FieldType::Text, &exactly), json!(exactly));
        assert_eq!(
            err(FieldType::Text, &"a".repeat(1_001)),
            "Text is longer than 1000 characters"
        );
        let long = "b".repeat(100_000);
        assert_eq!(ok(FieldType::LongText, &long), json!(long));
        assert_eq!(
            err(FieldType::LongText, &"b".repeat(100_001)),
            "Text is longer than 100000 characters"
        );
    }

    // ----- numbers -------------------------------------------------------------------------

    #[test]
    fn numbers_in_everyday_formats() {
        let cases: &[(&str, Value)] = &[
            ("42", json!(42)),
            ("  42  ", json!(42)),
            ("-17", json!(-17)),
            ("+17", json!(17)),
            ("\u{2212}3", json!(-3)),
            ("0.75", json!(0.75)),
            ("0,750", json!(0.75)),
            (".5", json!(0.5)),
            ("12,5", json!(12.5)),
            ("1,234", json!(1234)),
            ("1.234", json!(1234)),
            ("1,23", json!(1.23)),
            ("1234.567", json!(1234.567)),
            ("1,234,567", json!(1_234_567)),
            ("1,234,567.8", json!(1_234_567.8)),
            ("1.234.567,89", json!(1_234_567.89)),
            ("1 234 567", json!(1_234_567)),
            ("1\u{202f}234,5", json!(1234.5)),
            ("1\u{a0}234", json!(1234)),
            ("1'234'567.89", json!(1_234_567.89)),
            ("1,23,456", json!(123_456)),
            ("12.00", json!(12)),
            ("-0", json!(0)),
            ("1e3", json!(1000)),
            ("1.5E-3", json!(0.0015)),
            ("50%", json!(50)),
            ("12.5 %", json!(12.5)),
            ("1234-", json!(-1234)),
            ("$5", json!(5)),
        ];
        for (raw, expected) in cases {
            let got = ok(FieldType::Number, raw);
            assert_eq!(&got, expected, "{raw:?}");
            assert_eq!(
                got.is_i64(),
                expected.is_i64(),
                "{raw:?} integer-ness differs: {got}"
            );
        }
    }

    #[test]
    fn currency_amounts() {
        let cases: &[(&str, Value)] = &[
            ("1.234,56 €", json!(1234.56)),
            ("$1,234", json!(1234)),
            ("(12.50)", json!(-12.5)),
            ("(1,234.00)", json!(-1234)),
            ("$(1,234.00)", json!(-1234)),
            ("($1,234.00)", json!(-1234)),
            ("-$1,234.50", json!(-1234.5)),
            ("$-1,234.50", json!(-1234.5)),
            ("€ -12,5", json!(-12.5)),
            ("£99.99", json!(99.99)),
            ("¥1,000,000", json!(1_000_000)),
            ("₹1,23,456.50", json!(123_456.5)),
            ("CHF 1'234.50", json!(1234.5)),
            ("chf1'234.50", json!(1234.5)),
            ("1234 EUR", json!(1234)),
            ("USD 10", json!(10)),
            ("GBP12.5", json!(12.5)),
            ("12,5", json!(12.5)),
            ("1,234,567.8", json!(1_234_567.8)),
        ];
        for (raw, expected) in cases {
            let got = ok(FieldType::Currency, raw);
            assert_eq!(&got, expected, "{raw:?}");
            assert_eq!(got.is_i64(), expected.is_i64(), "{raw:?}: {got}");
        }
    }

    #[test]
    fn numbers_reject_garbage() {
        for raw in [
            "abc", "1,2,3", "12.34.56", "1..2", "1,.2", "12 5", "1 2345", "NaN", "inf", "infinity",
            "1e999", "(5", "5)", "-(5)", "$$5", "5 $ €", "--5", "12-34", "1.2.3,4", "12.", ",",
            "1,5 000", "0x10", "1/2", "5 apples",
        ] {
            assert_eq!(err(FieldType::Number, raw), "Invalid number", "{raw:?}");
        }
        assert_eq!(err(FieldType::Currency, "5%"), "Invalid currency amount");
        assert_eq!(err(FieldType::Currency, "ten"), "Invalid currency amount");
        assert_eq!(
            err_json(&field(FieldType::Number), json!(true)),
            "Invalid number"
        );
        assert_eq!(
            err_json(&field(FieldType::Currency), json!([1])),
            "Invalid currency amount"
        );
    }

    #[test]
    fn json_numbers_are_normalised() {
        let five = ok_json(FieldType::Number, json!(5.0));
        assert_eq!(five, json!(5));
        assert!(five.is_i64());
        assert_eq!(ok_json(FieldType::Number, json!(-7)), json!(-7));
        assert_eq!(ok_json(FieldType::Currency, json!(12.25)), json!(12.25));
        let huge = ok_json(FieldType::Number, json!(u64::MAX));
        assert!(huge.is_f64());
        assert_eq!(huge.as_f64(), Some(u64::MAX as f64));
        let big = ok(FieldType::Number, "99999999999999999999");
        assert!(big.is_f64());
        assert_eq!(big.as_f64(), Some(1e20));
        assert_eq!(
            ok(FieldType::Number, "9223372036854775807"),
            json!(i64::MAX)
        );
    }

    // ----- email ---------------------------------------------------------------------------

    #[test]
    fn emails_are_trimmed_lowercased_and_extracted() {
        assert_eq!(
            ok(FieldType::Email, "  Ada.Lovelace@Example.COM "),
            json!("ada.lovelace@example.com")
        );
        assert_eq!(
            ok(FieldType::Email, "Ada Lovelace <ADA@example.com>"),
            json!("ada@example.com")
        );
        assert_eq!(
            ok(FieldType::Email, "\"Lovelace, Ada\" < ada@example.co.uk >"),
            json!("ada@example.co.uk")
        );
        assert_eq!(
            ok(FieldType::Email, "mailto:ada+crm@example.com"),
            json!("ada+crm@example.com")
        );
    }

    #[test]
    fn emails_reject_malformed() {
        for raw in [
            "ada",
            "ada@",
            "@example.com",
            "ada@localhost",
            "a b@example.com",
            "ada@exa mple.com",
            "ada@@example.com",
            "Ada <ada@example.com",
            "ada@[127.0.0.1]",
            "ada@example..com",
        ] {
            assert_eq!(
                err(FieldType::Email, raw),
                "Invalid email format",
                "{raw:?}"
            );
        }
        assert_eq!(
            err_json(&field(FieldType::Email), json!(42)),
            "Invalid email format"
        );
    }

    // ----- phones --------------------------------------------------------------------------

    #[test]
    fn phone_numbers_become_e164() {
        assert_eq!(
            ok(FieldType::Phone, "+1 (212) 555-0100"),
            json!([phone("+12125550100", "Other")])
        );
        assert_eq!(
            ok(FieldType::Phone, "(212) 555-0100"),
            json!([phone("+12125550100", "Other")])
        );
        assert_eq!(
            ok(FieldType::Phone, "212.555.0100"),
            json!([phone("+12125550100", "Other")])
        );
        assert_eq!(
            ok(FieldType::Phone, "+44 20 7946 0958"),
            json!([phone("+442079460958", "Other")])
        );
        assert_eq!(
            ok_json(FieldType::Phone, json!(2125550100i64)),
            json!([phone("+12125550100", "Other")])
        );
    }

    #[test]
    fn phone_region_comes_from_options() {
        let gb = ValueOptions {
            default_region: Region::GB,
            ..ValueOptions::default()
        };
        assert_eq!(
            ok_with(&field(FieldType::Phone), "020 7946 0958", &gb),
            json!([phone("+442079460958", "Other")])
        );
        assert_eq!(
            ok(FieldType::Phone, "020 7946 0958"),
            json!([phone("020 7946 0958", "Other")])
        );
    }

    #[test]
    fn unverifiable_phone_numbers_are_kept_as_written() {
        assert_eq!(
            ok(FieldType::Phone, " 555-123-4567 "),
            json!([phone("555-123-4567", "Other")])
        );
        assert_eq!(
            ok(FieldType::Phone, "(555) 555-5555 ext. 12"),
            json!([phone("(555) 555-5555 ext. 12", "Other")])
        );
    }

    #[test]
    fn phone_extensions_are_kept() {
        assert_eq!(
            ok(FieldType::Phone, "(212) 555-0100 x123"),
            json!([phone("+12125550100 x123", "Other")])
        );
        assert_eq!(
            ok(FieldType::Phone, "212-555-0100 ext. 45"),
            json!([phone("+12125550100 x45", "Other")])
        );
        let f = field(FieldType::Phone);
        let stored = ok(FieldType::Phone, "212-555-0100 Extension: 45");
        assert_eq!(match_keys(&f, &stored), vec!["+12125550100x45"]);
    }

    #[test]
    fn several_phone_numbers_in_one_cell() {
        assert_eq!(
            ok(
                FieldType::Phone,
                "+1 212 555 0100; +44 20 7946 0958 / 212-555-0100\n555-123-4567\r\n"
            ),
            json!([
                phone("+12125550100", "Other"),
                phone("+442079460958", "Other"),
                phone("555-123-4567", "Other"),
            ])
        );
        // A bare `/` belongs to the number, only ` / ` separates.
        assert_eq!(
            ok(FieldType::Phone, "212/555-0100"),
            json!([phone("+12125550100", "Other")])
        );
    }

    #[test]
    fn phone_json_forms_and_types() {
        let f = field(FieldType::Phone);
        let parse = |raw: Value| parse_json(&f, &raw, &opts()).unwrap().unwrap();
        assert_eq!(
            parse(json!(["2125550100", "+44 20 7946 0958", null, ""])),
            json!([
                phone("+12125550100", "Other"),
                phone("+442079460958", "Other")
            ])
        );
        assert_eq!(
            parse(json!([
                {"number": "2125550100", "type": "mobile"},
                {"value": "+44 20 7946 0958", "type": " WORK "},
                {"number": "+1 212 555 0100", "type": "Home"},
                {"number": "415 555 2671"}
            ])),
            json!([
                phone("+12125550100", "Mobile"),
                phone("+442079460958", "Work"),
                phone("+14155552671", "Other")
            ])
        );
        assert_eq!(
            parse(json!({"Number": "2125550100", "Type": "home"})),
            json!([phone("+12125550100", "Home")])
        );
    }

    #[test]
    fn phone_types_come_from_the_field() {
        let custom = FieldDef {
            value_types: vec!["Office".to_owned(), "Fax".to_owned()],
            ..field(FieldType::Phone)
        };
        assert_eq!(
            ok_with(&custom, "2125550100", &opts()),
            json!([phone("+12125550100", "Office")])
        );
        assert_eq!(
            parse_json(
                &custom,
                &json!({"number": "2125550100", "type": "fax"}),
                &opts()
            ),
            Ok(Some(json!([phone("+12125550100", "Fax")])))
        );
        assert_eq!(
            err_json(&custom, json!({"number": "2125550100", "type": "Mobile"})),
            "Unknown phone type 'Mobile' (expected one of: Office, Fax)"
        );
        assert_eq!(
            err_json(
                &field(FieldType::Phone),
                json!([{"number": "2125550100", "type": "Pager"}])
            ),
            "Unknown phone type 'Pager' (expected one of: Mobile, Work, Home, Other)"
        );
        let with_other = FieldDef {
            value_types: vec!["Main".to_owned(), "other".to_owned()],
            ..field(FieldType::Phone)
        };
        assert_eq!(
            ok_with(&with_other, "2125550100", &opts()),
            json!([phone("+12125550100", "other")])
        );
    }

    #[test]
    fn phones_reject_non_numbers() {
        for raw in [
            "abc",
            "123",
            "12345678901234567",
            "1-800-FLOWERS",
            "212 555 0100 x",
            "212 555 0100 ext abc",
            "212+555+0100",
            "call me",
        ] {
            assert_eq!(
                err(FieldType::Phone, raw),
                "Invalid phone number",
                "{raw:?}"
            );
        }
        let f = field(FieldType::Phone);
        assert_eq!(err_json(&f, json!(true)), "Invalid phone number");
        assert_eq!(
            err_json(&f, json!([["2125550100"]])),
            "Invalid phone number"
        );
        assert_eq!(
            err_json(&f, json!({"phone": "2125550100"})),
            "Unknown phone part 'phone' (expected number, type)"
        );
    }

    #[test]
    fn phone_regex_cache_holds_every_region() {
        ok(FieldType::Phone, "+44 20 7946 0958");
        let capacity = phone_database()
            .cache()
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .capacity();
        assert_eq!(capacity, PHONE_REGEX_CACHE_CAPACITY);
    }

    #[test]
    fn phone_match_keys() {
        let f = field(FieldType::Phone);
        for raw in ["+1 (212) 555-0100", "2125550100", "+12125550100"] {
            assert_eq!(
                match_keys(&f, &ok(FieldType::Phone, raw)),
                vec!["+12125550100"],
                "{raw:?}"
            );
            // Also from text that was never normalised (stored by an older version).
            assert_eq!(
                match_keys(&f, &json!([{"number": raw}])),
                vec!["+12125550100"]
            );
        }
        assert_eq!(
            match_keys(&f, &ok(FieldType::Phone, "555-123-4567")),
            vec!["+5551234567"]
        );
        assert_eq!(
            match_keys(&f, &ok(FieldType::Phone, "2125550100; +44 20 7946 0958")),
            vec!["+12125550100", "+442079460958"]
        );
        assert!(match_keys(&f, &json!(null)).is_empty());
        assert!(match_keys(&f, &json!([])).is_empty());
    }

    // ----- urls ----------------------------------------------------------------------------

    #[test]
    fn urls_get_a_scheme_and_are_serialised() {
        let cases = [
            ("example.com", "https://example.com/"),
            ("  www.example.com/about  ", "https://www.example.com/about"),
            (
                "http://Example.COM/Path?q=1#top",
                "http://example.com/Path?q=1#top",
            ),
            ("HTTPS://example.com", "https://example.com/"),
            ("localhost:8080", "https://localhost:8080/"),
            ("example.com:8443/x", "https://example.com:8443/x"),
            ("https://192.168.0.1/admin", "https://192.168.0.1/admin"),
            ("bücher.de", "https://xn--bcher-kva.de/"),
        ];
        for (raw, expected) in cases {
            assert_eq!(ok(FieldType::Url, raw), json!(expected), "{raw:?}");
        }
    }

    #[test]
    fn urls_reject_other_schemes_and_hosts() {
        for raw in [
            "ftp://example.com",
            "mailto:ada@example.com",
            "javascript:alert(1)",
            "not a url",
            "https://nodot",
            "https://a..com",
            "https://.com",
            "https://",
            "exa mple.com",
        ] {
            assert_eq!(err(FieldType::Url, raw), "Invalid URL", "{raw:?}");
        }
        assert_eq!(err_json(&field(FieldType::Url), json!(3)), "Invalid URL");
    }

    #[test]
    fn url_match_key_ignores_case_and_trailing_slash() {
        let f = field(FieldType::Url);
        assert_eq!(
            match_keys(&f, &ok(FieldType::Url, "Example.com")),
            vec!["https://example.com"]
        );
        assert_eq!(
            match_keys(&f, &ok(FieldType::Url, "https://example.com/About/")),
            vec!["https://example.com/about"]
        );
    }

    // ----- dates ---------------------------------------------------------------------------

    #[test]
    fn dates_in_many_forms() {
        let cases = [
            ("2024-01-15", "2024-01-15"),
            ("2024/01/15", "2024-01-15"),
            ("2024.01.15", "2024-01-15"),
            ("2024-1-5", "2024-01-05"),
            ("20240115", "2024-01-15"),
            ("1/15/2024", "2024-01-15"),
            ("15.01.2024", "2024-01-15"),
            ("15-01-2024", "2024-01-15"),
            ("1/5/24", "2024-01-05"),
            ("1/5/69", "2069-01-05"),
            ("1/5/70", "1970-01-05"),
            ("12/31/99", "1999-12-31"),
            ("Jan 15, 2024", "2024-01-15"),
            ("jan 15 2024", "2024-01-15"),
            ("15 Jan 2024", "2024-01-15"),
            ("January 15 2024", "2024-01-15"),
            ("JANUARY 15, 2024", "2024-01-15"),
            ("15-Jan-2024", "2024-01-15"),
            ("15-jan-24", "2024-01-15"),
            ("Sept 3, 2024", "2024-09-03"),
            ("15th January 2024", "2024-01-15"),
            ("January 1st, 2024", "2024-01-01"),
            ("Mon, Jan 15, 2024", "2024-01-15"),
            ("Monday 15 January 2024", "2024-01-15"),
            ("2024-Jan-15", "2024-01-15"),
            ("Feb 29, 2024", "2024-02-29"),
            ("2024-01-15T10:30:00Z", "2024-01-15"),
            ("2024-01-15T23:30:00-05:00", "2024-01-15"),
            ("2024-01-15 10:30", "2024-01-15"),
            ("1/15/2024 3:05 PM", "2024-01-15"),
        ];
        for (raw, expected) in cases {
            assert_eq!(ok(FieldType::Date, raw), json!(expected), "{raw:?}");
        }
    }

    #[test]
    fn ambiguous_numeric_dates_follow_day_first() {
        let f = field(FieldType::Date);
        assert_eq!(ok(FieldType::Date, "03/04/2024"), json!("2024-03-04"));
        assert_eq!(ok_with(&f, "03/04/2024", &day_first()), json!("2024-04-03"));
        // A part above 12 can only be the day.
        assert_eq!(ok(FieldType::Date, "13/04/2024"), json!("2024-04-13"));
        assert_eq!(ok_with(&f, "13/04/2024", &day_first()), json!("2024-04-13"));
        assert_eq!(ok(FieldType::Date, "04/13/2024"), json!("2024-04-13"));
        assert_eq!(ok_with(&f, "04/13/2024", &day_first()), json!("2024-04-13"));
        // Year-first is never ambiguous.
        assert_eq!(ok_with(&f, "2024-03-04", &day_first()), json!("2024-03-04"));
        let dt = field(FieldType::Datetime);
        assert_eq!(
            ok_with(&dt, "03/04/2024 10:00", &day_first()),
            json!("2024-04-03T10:00:00Z")
        );
    }

    #[test]
    fn excel_serial_dates() {
        let f = field(FieldType::Date);
        let cases = [
            (1, "1900-01-01"),
            (59, "1900-02-28"),
            (61, "1900-03-01"),
            (45306, "2024-01-15"),
            (2_958_465, "9999-12-31"),
        ];
        for (serial, expected) in cases {
            assert_eq!(ok_json(FieldType::Date, json!(serial)), json!(expected));
            assert_eq!(ok(FieldType::Date, &serial.to_string()), json!(expected));
        }
        assert_eq!(
            ok_json(FieldType::Date, json!(45306.75)),
            json!("2024-01-15")
        );
        const DATE_ERR: &str = "Invalid date (expected e.g. 2024-01-15)";
        for serial in [json!(0), json!(60), json!(2_958_466), json!(-5), json!(0.5)] {
            assert_eq!(err_json(&f, serial.clone()), DATE_ERR, "{serial}");
        }
        for raw in ["0", "60", "2958466", "45306.5", "123456789"] {
            assert_eq!(err(FieldType::Date, raw), DATE_ERR, "{raw:?}");
        }
    }

    #[test]
    fn dates_reject_impossible_or_unclear() {
        for raw in [
            "2024-02-30",
            "2023-02-29",
            "2024-13-01",
            "2024-00-10",
            "hello",
            "15/15/2024",
            "03/04-2024",
            "03 04 2024",
            "Jan 2024",
            "2024-01",
            "Foo 15, 2024",
            "15 Jan",
            "1/2/3",
            "2024-01-15 25:00",
            "2024-01-15T10:30:00+99:00",
            "2024-01-15 extra",
            "-2024-01-15",
            "2024-01-15.",
            "0000-01-01",
            "10000-01-01",
        ] {
            assert_eq!(
                err(FieldType::Date, raw),
                "Invalid date (expected e.g. 2024-01-15)",
                "{raw:?}"
            );
        }
        assert_eq!(
            err_json(&field(FieldType::Date), json!(true)),
            "Invalid date (expected e.g. 2024-01-15)"
        );
    }

    // ----- datetimes -----------------------------------------------------------------------

    #[test]
    fn datetimes_are_stored_in_utc() {
        let cases = [
            ("2024-01-15T10:30:00Z", "2024-01-15T10:30:00Z"),
            ("2024-01-15t10:30:00z", "2024-01-15T10:30:00Z"),
            ("2024-01-15T12:30:00+02:00", "2024-01-15T10:30:00Z"),
            ("2024-01-15T05:30:00-0500", "2024-01-15T10:30:00Z"),
            ("2024-01-15T12:30+02", "2024-01-15T10:30:00Z"),
            ("2024-01-01T01:00:00+02:00", "2023-12-31T23:00:00Z"),
            ("2024-01-15T10:30:00.123Z", "2024-01-15T10:30:00.123Z"),
            ("2024-01-15T10:30:00.1Z", "2024-01-15T10:30:00.100Z"),
            ("2024-01-15T10:30:00.123999Z", "2024-01-15T10:30:00.123Z"),
            ("2024-01-15T10:30:00.000Z", "2024-01-15T10:30:00Z"),
            ("2024-01-15 10:30", "2024-01-15T10:30:00Z"),
            ("2024-01-15 10:30:45", "2024-01-15T10:30:45Z"),
            ("2024-01-15T10:30", "2024-01-15T10:30:00Z"),
            ("2024-01-15 10:30:00 UTC", "2024-01-15T10:30:00Z"),
            ("2024-01-15", "2024-01-15T00:00:00Z"),
            ("Jan 15, 2024", "2024-01-15T00:00:00Z"),
            ("20240115", "2024-01-15T00:00:00Z"),
            ("1/15/2024 3:05 PM", "2024-01-15T15:05:00Z"),
            ("1/15/2024 3:05:09pm", "2024-01-15T15:05:09Z"),
            ("1/15/2024 12:00 AM", "2024-01-15T00:00:00Z"),
            ("1/15/2024 12:15 p.m.", "2024-01-15T12:15:00Z"),
            ("1/15/2024 17:45", "2024-01-15T17:45:00Z"),
            ("Jan 15, 2024, 10:30 AM", "2024-01-15T10:30:00Z"),
            ("45306.4375", "2024-01-15T10:30:00Z"),
            ("45306", "2024-01-15T00:00:00Z"),
        ];
        for (raw, expected) in cases {
            assert_eq!(ok(FieldType::Datetime, raw), json!(expected), "{raw:?}");
        }
        assert_eq!(
            ok_json(FieldType::Datetime, json!(45306.4375)),
            json!("2024-01-15T10:30:00Z")
        );
        assert_eq!(
            ok_json(FieldType::Datetime, json!(45306.5)),
            json!("2024-01-15T12:00:00Z")
        );
        assert_eq!(
            ok_json(FieldType::Datetime, json!(45306)),
            json!("2024-01-15T00:00:00Z")
        );
    }

    #[test]
    fn datetimes_reject_bad_clocks_and_zones() {
        for raw in [
            "yesterday",
            "2024-01-15T25:00:00Z",
            "2024-01-15T10:60:00Z",
            "2024-01-15T10:30:00+25:00",
            "2024-01-15T10:30:00 Mars",
            "1/15/2024 13:00 PM",
            "1/15/2024 0:30 AM",
            "2024-01-15T10",
            "2024-01-15T10:3",
            "2024-01-15T10:30:00.Z",
            "10:30",
            "60",
            "9999-12-31T23:00:00-05:00",
        ] {
            assert_eq!(
                err(FieldType::Datetime, raw),
                "Invalid date-time",
                "{raw:?}"
            );
        }
        let f = field(FieldType::Datetime);
        assert_eq!(err_json(&f, json!(true)), "Invalid date-time");
        assert_eq!(err_json(&f, json!(0.25)), "Invalid date-time");
        assert_eq!(err_json(&f, json!(1_700_000_000)), "Invalid date-time");
    }

    // ----- booleans ------------------------------------------------------------------------

    #[test]
    fn booleans_in_many_languages() {
        for raw in [
            "true", "TRUE", " Yes ", "y", "1", "on", "T", "x", "X", "checked", "ja", "oui", "sí",
            "SÍ", "si", "wahr", "Vrai",
        ] {
            assert_eq!(ok(FieldType::Boolean, raw), json!(true), "{raw:?}");
        }
        for raw in [
            "false",
            "False",
            "no",
            "NO",
            "n",
            "0",
            "off",
            "f",
            "unchecked",
            "Nein",
            "non",
            "falsch",
            "faux",
        ] {
            assert_eq!(ok(FieldType::Boolean, raw), json!(false), "{raw:?}");
        }
        assert_eq!(ok_json(FieldType::Boolean, json!(true)), json!(true));
        assert_eq!(ok_json(FieldType::Boolean, json!(false)), json!(false));
        assert_eq!(ok_json(FieldType::Boolean, json!(1)), json!(true));
        assert_eq!(ok_json(FieldType::Boolean, json!(0)), json!(false));
        assert_eq!(ok_json(FieldType::Boolean, json!(1.0)), json!(true));
    }

    #[test]
    fn booleans_reject_other_words() {
        const BOOL_ERR: &str = "Invalid boolean (expected true/false, yes/no or 1/0)";
        for raw in ["maybe", "2", "yess", "-1", "truefalse", "unchecked!"] {
            assert_eq!(err(FieldType::Boolean, raw), BOOL_ERR, "{raw:?}");
        }
        let f = field(FieldType::Boolean);
        assert_eq!(err_json(&f, json!(2)), BOOL_ERR);
        assert_eq!(err_json(&f, json!([true])), BOOL_ERR);
    }

    // ----- selects -------------------------------------------------------------------------

    #[test]
    fn select_uses_the_canonical_option() {
        let f = select(FieldType::Select, &["New", "In Progress", "Done", "3"]);
        assert_eq!(ok_with(&f, " in progress ", &opts()), json!("In Progress"));
        assert_eq!(ok_with(&f, "DONE", &opts()), json!("Done"));
        assert_eq!(parse_json(&f, &json!(3), &opts()), Ok(Some(json!("3"))));
        assert_eq!(
            err_with(&f, "Closed"),
            "Value 'Closed' is not an option (expected one of: New, In Progress, Done, 3)"
        );
        assert_eq!(
            err_json(&f, json!(["New"])),
            "Invalid option (expected a single text value)"
        );
        let accented = select(FieldType::Select, &["Émigré"]);
        assert_eq!(ok_with(&accented, "émigré", &opts()), json!("Émigré"));
    }

    #[test]
    fn multi_select_splits_dedupes_and_keeps_order() {
        let f = select(
            FieldType::MultiSelect,
            &["Alpha", "Beta", "Gamma", "Sales, EMEA"],
        );
        assert_eq!(
            ok_with(&f, "beta; alpha, BETA | gamma", &opts()),
            json!(["Beta", "Alpha", "Gamma"])
        );
        assert_eq!(ok_with(&f, "sales, emea", &opts()), json!(["Sales, EMEA"]));
        assert_eq!(ok_with(&f, "Alpha;;", &opts()), json!(["Alpha"]));
        assert_eq!(
            parse_json(&f, &json!(["gamma", " alpha ", "Gamma", null, ""]), &opts()),
            Ok(Some(json!(["Gamma", "Alpha"])))
        );
        assert_eq!(parse_json(&f, &json!([null, " "]), &opts()), Ok(None));
        assert_eq!(
            err_with(&f, "Alpha, Delta"),
            "Value 'Delta' is not an option (expected one of: Alpha, Beta, Gamma, Sales, EMEA)"
        );
        assert_eq!(
            err_json(&f, json!([["Alpha"]])),
            "Invalid options (expected a list of text values)"
        );
    }

    // ----- references ----------------------------------------------------------------------

    #[test]
    fn references_are_trimmed_scalars() {
        assert_eq!(
            ok(FieldType::Reference, "  01HZX3 Acme Corp "),
            json!("01HZX3 Acme Corp")
        );
        assert_eq!(ok_json(FieldType::Reference, json!(1042)), json!("1042"));
        assert_eq!(
            err(FieldType::Reference, &"r".repeat(1_001)),
            "Text is longer than 1000 characters"
        );
        let f = field(FieldType::Reference);
        assert_eq!(
            err_json(&f, json!(true)),
            "Invalid reference (expected a record id or name)"
        );
        assert_eq!(
            err_json(&f, json!(["a"])),
            "Invalid reference (expected a record id or name)"
        );
    }

    // ----- addresses -----------------------------------------------------------------------

    #[test]
    fn addresses_from_objects_and_text() {
        let f = field(FieldType::Address);
        assert_eq!(
            parse_json(
                &f,
                &json!({
                    "Line1": " 1 Main St ",
                    "address2": "",
                    "city": "Springfield",
                    "Region": "IL",
                    "postalCode": 62701,
                    "country": "US"
                }),
                &opts()
            ),
            Ok(Some(json!({
                "street": "1 Main St",
                "city": "Springfield",
                "state": "IL",
                "zip": "62701",
                "country": "US"
            })))
        );
        assert_eq!(
            parse_json(
                &f,
                &json!({"street2": "Apt 4", "province": "ON", "postcode": "K1A 0B1"}),
                &opts()
            ),
            Ok(Some(
                json!({"street2": "Apt 4", "state": "ON", "zip": "K1A 0B1"})
            ))
        );
        assert_eq!(
            ok(FieldType::Address, " 1 Main St, Springfield "),
            json!({"street": "1 Main St, Springfield"})
        );
    }

    #[test]
    fn addresses_reject_unknown_parts() {
        let f = field(FieldType::Address);
        assert_eq!(
            err_json(&f, json!({"street": "1 Main St", "planet": "Earth"})),
            "Unknown address part 'planet' (expected street, street2, city, state, zip, country)"
        );
        assert_eq!(
            err_json(&f, json!({"city": ["Paris"]})),
            "Address part 'city' must be text"
        );
        assert_eq!(
            err_json(&f, json!({"zip": "1", "postal_code": "2"})),
            "Address part 'zip' is given twice"
        );
        assert_eq!(
            err_json(&f, json!(5)),
            "Invalid address (expected text or an object with street, street2, city, state, zip, country)"
        );
        assert_eq!(
            err_json(&f, json!({"city": "x".repeat(1_001)})),
            "Address part 'city' is longer than 1000 characters"
        );
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
