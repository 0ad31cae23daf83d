//! Web addresses.
//!
//! In: a trimmed cell, with or without a scheme (`example.com`, `localhost:8080`). Out: the `url`
//! crate's serialisation of an http(s) URL whose host is a dotted domain, `localhost` or an IP
//! address as typed, or `Invalid URL` (other schemes such as `mailto:` or `javascript:` never
//! pass).

use serde_json::Value;
use url::{Host, Url};

use super::{INVALID_URL, ValueError};

/// Length of a syntactically valid URL scheme before the first `:`, if there is one.
fn scheme_len(text: &str) -> Option<usize> {
    let colon = text.find(':')?;
    let scheme = &text[..colon];
    let mut chars = scheme.chars();
    let valid = chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    valid.then_some(colon)
}

pub(super) fn parse_url(text: &str) -> Result<Value, ValueError> {
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

#[cfg(test)]
mod tests {
    use crate::schema::value::test_support::*;

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
}
