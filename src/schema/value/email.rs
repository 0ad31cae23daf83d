//! Email addresses.
//!
//! In: a trimmed cell, possibly as mail clients copy it (`Ada <ada@example.com>`, `mailto:`).
//! Out: the bare address lower-cased, or `Invalid email format`. Only addresses deliverable on
//! the internet pass: a dotted domain with a top-level domain, no `[1.2.3.4]` literals.

use serde_json::Value;

use super::{INVALID_EMAIL, ValueError};

pub(super) fn parse_email(text: &str) -> Result<Value, ValueError> {
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

#[cfg(test)]
mod tests {
    use crate::schema::value::test_support::*;

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
}
