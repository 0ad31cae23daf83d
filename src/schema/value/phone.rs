//! Phone numbers: one field value holds a list of numbers, each with a type (Mobile, Work, …).
//!
//! In: a cell (several numbers separated by `;`, ` / ` or line breaks, each optionally with an
//! extension), or JSON (a string, a number, a `{number, type}` object or a list of them), and the
//! default region for numbers written without a country code. Out: `[{"number", "type"}, ...]`
//! with valid numbers in E.164 (plus ` x123` for an extension), plausible but unverifiable ones
//! kept as written, repeats dropped by match key; or `Invalid phone number`. [`phone_key`] gives
//! the match key of a stored number, the same key parsing gave it.
//!
//! Validity is the `phonenumber` crate's, computed by `phone_rules` (the crate's rules over its
//! metadata patterns, compiled once and shared by every thread). The crate itself, with databases
//! of our own, one per core (see [`phone_database`]), so threads do not queue on its one
//! regex-cache mutex, answers for regions the metadata lacks and is what the tests compare with.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{OnceLock, PoisonError};

use phonenumber::country::Id as Region;
use phonenumber::metadata::{DATABASE, Database};
use phonenumber::{Mode, PhoneNumber};
use serde_json::{Map, Value};

use super::number::number_text;
use super::phone_rules::PhoneRules;
use super::text::{eq_fold, fold_text};
use super::{INVALID_PHONE, ValueError, ValueOptions};
use crate::schema::{DEFAULT_PHONE_TYPES, FieldDef};

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
            None | Some(Value::Null) => None,
            Some(Value::String(text)) => Some(text.as_str()),
            Some(other) => return Err(unknown_phone_type(self.field, &other.to_string())),
        };
        self.add_typed(&number, kind)
    }

    /// One number with the type it was given (absent or blank: the field's default type).
    fn add_typed(&mut self, number: &str, kind: Option<&str>) -> Result<(), ValueError> {
        if number.trim().is_empty() {
            return Ok(());
        }
        let kind = match kind.map(str::trim) {
            None | Some("") => self.default_type,
            Some(text) => canonical_phone_type(self.field, text)
                .ok_or_else(|| unknown_phone_type(self.field, text))?,
        };
        self.add_number(number, kind)
    }

    fn finish(self) -> Option<Value> {
        (!self.items.is_empty()).then_some(Value::Array(self.items))
    }
}

/// A phone field fed by several cells (the phone columns of one row), each one number with its
/// own type (`None`: the field's default type): the same result as
/// [`parse_json`](super::parse_json) of the list of `{"number", "type"}` objects, without
/// building that list for every row.
pub fn parse_phone_parts<'a>(
    field: &FieldDef,
    parts: impl IntoIterator<Item = (&'a str, Option<&'a str>)>,
    opts: &ValueOptions,
) -> Result<Option<Value>, ValueError> {
    let mut phones = Phones::new(field, opts);
    for (number, kind) in parts {
        phones.add_typed(number, kind)?;
    }
    Ok(phones.finish())
}

/// A phone cell (one or several numbers, all of the field's default type) to the stored list.
pub(super) fn parse_phone_text(
    field: &FieldDef,
    text: &str,
    opts: &ValueOptions,
) -> Result<Option<Value>, ValueError> {
    let mut phones = Phones::new(field, opts);
    phones.add_text(text, phones.default_type)?;
    Ok(phones.finish())
}

pub(super) fn parse_phone_json(
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
const PHONE_METADATA_XML: &str =
    include_str!("../../../assets/phonenumber/PhoneNumberMetadata.xml");

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
pub(super) fn phone_database() -> &'static Database {
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

/// The `phonenumber` crate's answer for `text`, through the crate itself: the number in E.164 if
/// it is valid. [`valid_e164`] gives the same answer faster.
pub(super) fn crate_valid_e164(text: &str, region: Region) -> Option<String> {
    parse_valid_phone(text, region).map(|parsed| {
        parsed
            .format()
            .database(phone_database())
            .mode(Mode::E164)
            .to_string()
    })
}

/// The crate's rules over patterns compiled once (see `phone_rules`), built from this process's
/// first phone database on first use and shared by every thread.
fn phone_rules() -> &'static PhoneRules {
    static RULES: OnceLock<PhoneRules> = OnceLock::new();
    RULES.get_or_init(|| PhoneRules::new(phone_database()))
}

/// The number in E.164 if it is valid: `text` is the dialable part `phone_shape` found.
fn valid_e164(text: &str, region: Region) -> Option<String> {
    let rules = phone_rules();
    match rules.region(region) {
        Some(default) => rules.valid_e164(text, default),
        // A region the metadata lacks: the crate's own path answers, as it always did.
        None => crate_valid_e164(text, region),
    }
}

/// Returns (stored number, match key). Valid numbers become E.164 (plus ` x123` for an
/// extension); plausible but unverifiable ones (fictional 555 numbers, unknown ranges) are kept
/// as written so imports do not lose them.
fn normalise_phone(text: &str, region: Region) -> Result<(String, String), ValueError> {
    let shape = phone_shape(text).ok_or_else(|| ValueError::new(INVALID_PHONE))?;
    let (number, mut key) = match valid_e164(shape.main, region) {
        Some(e164) => {
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

pub(super) fn phone_key(number: &str, region: Region) -> Option<String> {
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

pub(super) fn for_each_phone_number(stored: &Value, visit: &mut impl FnMut(&str)) {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::value::test_support::*;

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
    fn phone_parts_read_as_the_json_list_of_them() {
        let custom = FieldDef {
            value_types: vec!["Office".to_owned(), "Fax".to_owned()],
            ..field(FieldType::Phone)
        };
        let cases: &[&[(&str, Option<&str>)]] = &[
            &[],
            &[
                ("2125550100", Some("Mobile")),
                ("+44 20 7946 0958", Some("Work")),
            ],
            &[("2125550100", None), ("212-555-0100", Some("Home"))],
            &[("555-123-4567", Some(" home ")), ("", Some("Work"))],
            &[("2125550100; 4155552671", Some("Work"))],
            &[("2125550100", Some("Pager"))],
            &[("call me", Some("Mobile"))],
            &[("2125550100", Some("fax"))],
        ];
        for f in [field(FieldType::Phone), custom] {
            for parts in cases {
                let list = parts
                    .iter()
                    .map(|(number, kind)| match kind {
                        Some(kind) => json!({"number": number, "type": kind}),
                        None => json!({"number": number}),
                    })
                    .collect();
                assert_eq!(
                    parse_phone_parts(&f, parts.iter().copied(), &opts()),
                    parse_json(&f, &Value::Array(list), &opts()),
                    "{parts:?}"
                );
            }
        }
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
}
