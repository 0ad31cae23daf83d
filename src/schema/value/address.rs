//! Postal addresses.
//!
//! In: a JSON object whose keys are the parts or their common aliases (`line1`, `postalCode`,
//! `province`, …), or plain text (stored as the street). Out: an object of the non-blank
//! [`ADDRESS_PARTS`] under their canonical names, each at most 1,000 characters; an unknown part,
//! a part given twice with different values or a non-text part is refused.

use serde_json::{Map, Value};

use super::number::number_text;
use super::{ValueError, invalid};
use crate::schema::{ADDRESS_PARTS, FieldType};

const ADDRESS_PART_MAX_CHARS: usize = 1_000;

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

pub(super) fn checked_address_part(part: &str, text: &str) -> Result<Value, ValueError> {
    if text.len() > ADDRESS_PART_MAX_CHARS && text.chars().count() > ADDRESS_PART_MAX_CHARS {
        return Err(ValueError(format!(
            "Address part '{part}' is longer than {ADDRESS_PART_MAX_CHARS} characters"
        )));
    }
    Ok(Value::String(text.to_owned()))
}

/// An address fed by several cells (the address columns of one row), each `(part, text)` with
/// `part` one of [`ADDRESS_PARTS`]; cells of the same part are joined with a space. The same
/// result as [`parse_json`](super::parse_json) of the object of those parts, without building it
/// for every row (a part too long is reported as there: the first in name order).
pub fn parse_address_parts<'a>(
    parts: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> Result<Option<Value>, ValueError> {
    let mut texts: [Option<String>; ADDRESS_PARTS.len()] = Default::default();
    for (part, text) in parts {
        let index = ADDRESS_PARTS
            .iter()
            .position(|name| *name == part)
            .ok_or_else(|| unknown_part(part))?;
        match &mut texts[index] {
            Some(before) => {
                before.push(' ');
                before.push_str(text);
            }
            slot @ None => *slot = Some(text.to_owned()),
        }
    }
    let mut by_name: [usize; ADDRESS_PARTS.len()] = std::array::from_fn(|index| index);
    by_name.sort_by_key(|&index| ADDRESS_PARTS[index]);
    let mut checked: [Option<Value>; ADDRESS_PARTS.len()] = Default::default();
    for index in by_name {
        if let Some(text) = &texts[index]
            && !text.trim().is_empty()
        {
            checked[index] = Some(checked_address_part(ADDRESS_PARTS[index], text.trim())?);
        }
    }
    let mut stored = Map::new();
    for (name, part) in ADDRESS_PARTS.iter().zip(checked) {
        if let Some(part) = part {
            stored.insert((*name).to_owned(), part);
        }
    }
    Ok((!stored.is_empty()).then_some(Value::Object(stored)))
}

fn unknown_part(key: &str) -> ValueError {
    ValueError(format!(
        "Unknown address part '{key}' (expected {})",
        ADDRESS_PARTS.join(", ")
    ))
}

pub(super) fn parse_address_json(raw: &Value) -> Result<Option<Value>, ValueError> {
    let Value::Object(map) = raw else {
        return Err(invalid(FieldType::Address));
    };
    let mut parts: [Option<Value>; ADDRESS_PARTS.len()] = Default::default();
    for (key, value) in map {
        let index = ADDRESS_KEYS
            .iter()
            .find(|(alias, _)| key.trim().eq_ignore_ascii_case(alias))
            .map(|&(_, index)| index)
            .ok_or_else(|| unknown_part(key))?;
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::value::test_support::*;

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
    fn address_parts_read_as_the_object_of_them() {
        let f = field(FieldType::Address);
        let long = "x".repeat(1_001);
        let cases: Vec<Vec<(&str, &str)>> = vec![
            vec![],
            vec![("city", "Springfield"), ("country", "US")],
            vec![
                ("street", "1 Main St"),
                ("street", "Apt 4"),
                ("zip", "62701"),
            ],
            vec![("zip", "  "), ("state", "IL")],
            vec![("zip", &long), ("city", &long)],
            vec![("street2", "Floor 2"), ("street", &long)],
        ];
        for parts in cases {
            let mut object = serde_json::Map::new();
            for (part, text) in &parts {
                let joined = match object.get(*part) {
                    Some(Value::String(before)) => format!("{before} {text}"),
                    _ => (*text).to_owned(),
                };
                object.insert((*part).to_owned(), Value::String(joined));
            }
            let expected = if object.is_empty() {
                Ok(None)
            } else {
                parse_json(&f, &Value::Object(object), &opts())
            };
            assert_eq!(
                parse_address_parts(parts.iter().copied()),
                expected,
                "{parts:?}"
            );
        }
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
}
