//! Text values (text, long text, references) and the case folding the other kinds share.
//!
//! In: a trimmed, non-empty cell. Out: the same text as a stored string, or a [`ValueError`] when
//! it is longer than its type allows. [`eq_fold`] and [`fold_text`] compare and key text the same
//! way everywhere (options, phone types, match keys), ASCII first because nearly every cell is.

use serde_json::Value;

use super::ValueError;

pub(super) const TEXT_MAX_CHARS: usize = 1_000;
pub(super) const LONG_TEXT_MAX_CHARS: usize = 100_000;
pub(super) const REFERENCE_MAX_CHARS: usize = 1_000;

/// Case-insensitive equality without allocating; ASCII first because nearly every cell is ASCII.
pub(super) fn eq_fold(a: &str, b: &str) -> bool {
    if a.is_ascii() && b.is_ascii() {
        a.eq_ignore_ascii_case(b)
    } else {
        a.chars()
            .flat_map(char::to_lowercase)
            .eq(b.chars().flat_map(char::to_lowercase))
    }
}

/// Trimmed, whitespace-collapsed, lower-cased text in one pass (one allocation).
pub(super) fn fold_text(text: &str) -> String {
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

pub(super) fn checked_text(text: &str, max_chars: usize) -> Result<Value, ValueError> {
    check_length(text, max_chars)?;
    Ok(Value::String(text.to_owned()))
}

#[cfg(test)]
mod tests {
    use crate::schema::value::test_support::*;

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
}
