//! Booleans, selects and multi-selects: values chosen from a fixed set.
//!
//! In: a trimmed cell or JSON scalar/list, and the field's options. Out: `true`/`false` from the
//! checkbox words of several languages; the option's canonical spelling for a select (matched
//! case-insensitively); for a multi-select the canonical options split on `;`, `,` or `|`,
//! without repeats and in input order (an option that itself contains a separator matches whole
//! first). Anything else is refused with the list of options.

use serde_json::Value;

use super::number::number_text;
use super::text::eq_fold;
use super::{ValueError, invalid, is_blank};
use crate::schema::{FieldDef, FieldType};

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

pub(super) fn parse_bool_text(text: &str) -> Option<bool> {
    if text.len() > "unchecked".len() {
        return None;
    }
    BOOLEAN_WORDS
        .iter()
        .find(|(word, _)| eq_fold(text, word))
        .map(|&(_, flag)| flag)
}

pub(super) fn find_option<'f>(field: &'f FieldDef, wanted: &str) -> Option<&'f str> {
    field
        .options
        .iter()
        .find(|option| eq_fold(option.trim(), wanted))
        .map(String::as_str)
}

pub(super) fn not_an_option(field: &FieldDef, wanted: &str) -> ValueError {
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

pub(super) fn parse_multi_select_text(
    field: &FieldDef,
    text: &str,
) -> Result<Option<Value>, ValueError> {
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

pub(super) fn parse_multi_select_json(
    field: &FieldDef,
    raw: &Value,
) -> Result<Option<Value>, ValueError> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::value::test_support::*;

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
}
