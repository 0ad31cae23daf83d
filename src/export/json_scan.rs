//! Borrowed reading of stored JSON for the export's hot loop: the members of an object and the
//! elements of an array as slices of the text, without building values or allocating.
//!
//! In: the JSON text of a stored column (`records.fields`, a phone list, an address). Out: the
//! raw text of each member's key and value (or each element), in order; [`string`] decodes a
//! string value. Guarantees: the structure is checked (braces, brackets, strings, colons and
//! commas; anything else is a [`ScanError`]), and every value handed out is one whole JSON value.
//! What is inside a scalar is checked when it is used: strings with escapes are decoded by
//! `serde_json`, numbers parsed, other literals compared; the export takes the `serde_json` path
//! for any shape it does not read itself, so a malformed value there is still reported.

use std::borrow::Cow;

/// One JSON value's text as it stands in its document, and whether it is a string with escapes
/// (found while scanning, so that [`string`] need not look again).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Raw<'a> {
    text: &'a str,
    escaped: bool,
}

impl<'a> Raw<'a> {
    /// A value's text, looked through for escapes (for values not found by a scan).
    #[cfg(test)]
    pub(crate) fn new(text: &'a str) -> Raw<'a> {
        Raw {
            text,
            escaped: text.contains('\\'),
        }
    }

    pub(crate) fn text(self) -> &'a str {
        self.text
    }

    pub(crate) fn is_null(self) -> bool {
        self.text == "null"
    }

    pub(crate) fn is_string(self) -> bool {
        self.text.starts_with('"')
    }
}

impl std::ops::Deref for Raw<'_> {
    type Target = str;

    fn deref(&self) -> &str {
        self.text
    }
}

/// Malformed JSON, at a byte offset.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed JSON at byte {at}: {what}")]
pub(crate) struct ScanError {
    at: usize,
    what: &'static str,
}

type Scan<T> = Result<T, ScanError>;

fn fail<T, E: From<ScanError>>(at: usize, what: &'static str) -> Result<T, E> {
    Err(ScanError { at, what }.into())
}

/// Reported like the errors of `serde_json`, whose place it takes.
impl From<ScanError> for serde_json::Error {
    fn from(error: ScanError) -> serde_json::Error {
        serde::de::Error::custom(error)
    }
}

/// Bytes of a string looked at one by one before a vector search takes over.
const QUICK_BYTES: usize = 24;

/// Objects and arrays nest at most this deep (`serde_json`'s own limit).
const MAX_DEPTH: usize = 128;

/// Calls `visit(key, value)` for each member of the JSON object `json`: the key's text (decoded
/// when it has escapes) and the value's raw JSON text. Stops at the first error, `visit`'s own
/// included.
pub(crate) fn members<'a, E: From<ScanError>>(
    json: &'a str,
    mut visit: impl FnMut(&str, Raw<'a>) -> Result<(), E>,
) -> Result<(), E> {
    let bytes = json.as_bytes();
    items(bytes, Brackets::OBJECT, |at| {
        if bytes.get(at) != Some(&b'"') {
            return fail(at, "expected a key");
        }
        let (key_end, escaped) = string_end(bytes, at)?;
        let key = string(Raw {
            text: &json[at..key_end],
            escaped,
        })
        .map_err(|_| ScanError {
            at,
            what: "bad escape in a key",
        })?;
        let colon = skip_space(bytes, key_end);
        if bytes.get(colon) != Some(&b':') {
            return fail(colon, "expected ':'");
        }
        let start = skip_space(bytes, colon + 1);
        let (stop, escaped) = value_end(bytes, start)?;
        let text = &json[start..stop];
        visit(&key, Raw { text, escaped })?;
        Ok(stop)
    })
}

/// Calls `visit(element)` for each element of the JSON array `json`, with its raw JSON text.
/// Stops at the first error, `visit`'s own included.
pub(crate) fn elements<'a, E: From<ScanError>>(
    json: &'a str,
    mut visit: impl FnMut(Raw<'a>) -> Result<(), E>,
) -> Result<(), E> {
    let bytes = json.as_bytes();
    items(bytes, Brackets::ARRAY, |at| {
        let (stop, escaped) = value_end(bytes, at)?;
        let text = &json[at..stop];
        visit(Raw { text, escaped })?;
        Ok(stop)
    })
}

/// An object's or an array's brackets, and what an error calls it.
struct Brackets {
    open: u8,
    close: u8,
    expected: &'static str,
    expected_next: &'static str,
}

impl Brackets {
    const OBJECT: Brackets = Brackets {
        open: b'{',
        close: b'}',
        expected: "expected an object",
        expected_next: "expected ',' or '}'",
    };
    const ARRAY: Brackets = Brackets {
        open: b'[',
        close: b']',
        expected: "expected an array",
        expected_next: "expected ',' or ']'",
    };
}

/// Walks the comma-separated items of the object or array that is the whole of `bytes`:
/// `item(at)` reads the item starting at `at` and returns where it ends.
fn items<E: From<ScanError>>(
    bytes: &[u8],
    brackets: Brackets,
    mut item: impl FnMut(usize) -> Result<usize, E>,
) -> Result<(), E> {
    let mut at = skip_space(bytes, 0);
    if bytes.get(at) != Some(&brackets.open) {
        return fail(at, brackets.expected);
    }
    at = skip_space(bytes, at + 1);
    if bytes.get(at) == Some(&brackets.close) {
        return Ok(end(bytes, at + 1)?);
    }
    loop {
        at = skip_space(bytes, item(at)?);
        match bytes.get(at) {
            Some(b',') => at = skip_space(bytes, at + 1),
            Some(&close) if close == brackets.close => return Ok(end(bytes, at + 1)?),
            _ => return fail(at, brackets.expected_next),
        }
    }
}

/// The text of a JSON string value: borrowed unless it has escapes.
pub(crate) fn string(raw: Raw<'_>) -> Result<Cow<'_, str>, serde_json::Error> {
    match raw.text.strip_prefix('"').and_then(|r| r.strip_suffix('"')) {
        Some(inner) if !raw.escaped => Ok(Cow::Borrowed(inner)),
        _ => serde_json::from_str::<String>(raw.text).map(Cow::Owned),
    }
}

/// Only white space may follow the top-level value.
fn end(bytes: &[u8], at: usize) -> Scan<()> {
    let at = skip_space(bytes, at);
    if at == bytes.len() {
        Ok(())
    } else {
        fail(at, "trailing characters")
    }
}

fn skip_space(bytes: &[u8], mut at: usize) -> usize {
    while matches!(bytes.get(at), Some(b' ' | b'\t' | b'\n' | b'\r')) {
        at += 1;
    }
    at
}

/// Where the string starting at `at` (its opening quote) ends, just after its closing quote, and
/// whether it holds escapes.
fn string_end(bytes: &[u8], at: usize) -> Scan<(usize, bool)> {
    let mut i = at + 1;
    let mut escaped = false;
    // Most strings are short: their first bytes are looked at one by one, which is cheaper than
    // setting up a vector search; a long string's rest goes to memchr.
    let quick = bytes.len().min(at + 1 + QUICK_BYTES);
    while i < quick {
        match bytes[i] {
            b'"' => return Ok((i + 1, escaped)),
            b'\\' => {
                escaped = true;
                i += 2;
            }
            _ => i += 1,
        }
    }
    while let Some(found) = bytes
        .get(i..)
        .and_then(|rest| memchr::memchr2(b'"', b'\\', rest))
    {
        i += found;
        if bytes[i] == b'"' {
            return Ok((i + 1, escaped));
        }
        // A backslash escapes the next byte.
        escaped = true;
        i += 2;
    }
    fail(at, "unterminated string")
}

/// Where the value starting at `at` ends, and whether it is a string with escapes.
fn value_end(bytes: &[u8], at: usize) -> Scan<(usize, bool)> {
    match bytes.get(at) {
        Some(b'"') => string_end(bytes, at),
        Some(b'{' | b'[') => Ok((nested_end(bytes, at)?, false)),
        Some(b'-' | b'0'..=b'9' | b't' | b'f' | b'n') => {
            let mut i = at + 1;
            while i < bytes.len()
                && !matches!(bytes[i], b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r')
            {
                i += 1;
            }
            Ok((i, false))
        }
        _ => fail(at, "expected a value"),
    }
}

/// Where the object or array starting at `at` ends, its brackets matched.
fn nested_end(bytes: &[u8], at: usize) -> Scan<usize> {
    let mut open = [0u8; MAX_DEPTH];
    let mut depth = 0;
    let mut i = at;
    while i < bytes.len() {
        match bytes[i] {
            b'"' => {
                i = string_end(bytes, i)?.0;
                continue;
            }
            bracket @ (b'{' | b'[') => {
                if depth == MAX_DEPTH {
                    return fail(i, "nested too deep");
                }
                open[depth] = bracket;
                depth += 1;
            }
            close @ (b'}' | b']') => {
                let expected = if close == b'}' { b'{' } else { b'[' };
                if depth == 0 || open[depth - 1] != expected {
                    return fail(i, "mismatched bracket");
                }
                depth -= 1;
                if depth == 0 {
                    return Ok(i + 1);
                }
            }
            _ => {}
        }
        i += 1;
    }
    fail(at, "unterminated object or array")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all_members(json: &str) -> Scan<Vec<(String, String)>> {
        let mut out = Vec::new();
        members(json, |k, v| {
            out.push((k.to_string(), v.text().to_string()));
            Ok::<_, ScanError>(())
        })?;
        Ok(out)
    }

    #[test]
    fn members_and_elements_are_whole_values() {
        let json =
            r#" {"a":"x,}\"y","b" : [1, {"c": "]"}], "d\u0041":-1.5e3,"e":null , "f":{"g":[[]]}} "#;
        let got = all_members(json).unwrap();
        let expected = [
            ("a", r#""x,}\"y""#),
            ("b", r#"[1, {"c": "]"}]"#),
            ("dA", "-1.5e3"),
            ("e", "null"),
            ("f", r#"{"g":[[]]}"#),
        ];
        assert_eq!(got.len(), expected.len());
        for ((k, v), (ek, ev)) in got.iter().zip(expected) {
            assert_eq!((k.as_str(), v.as_str()), (ek, ev));
        }
        // Every value is what serde_json reads there.
        let parsed: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(json).unwrap();
        for (k, v) in &got {
            assert_eq!(
                serde_json::from_str::<serde_json::Value>(v).unwrap(),
                parsed[k]
            );
        }
        let mut items = Vec::new();
        elements(r#"[ "a", {"n": [1,2]}, [], 3 ]"#, |e| {
            items.push(e.text().to_string());
            Ok::<_, ScanError>(())
        })
        .unwrap();
        assert_eq!(items, [r#""a""#, r#"{"n": [1,2]}"#, "[]", "3"]);
        assert_eq!(all_members("{}").unwrap(), []);
        let escaped = all_members(r#"{"k":"a\\","m":"\"\\\"","n":1}"#).unwrap();
        assert_eq!(escaped[0].1, r#""a\\""#);
        assert_eq!(escaped[1].1, r#""\"\\\"""#);
        assert_eq!(escaped[2].1, "1");
        // Past the bytes looked at one by one: escapes and the closing quote found by memchr.
        for len in 20..30 {
            let text = format!("{}\"q\\{}", "a".repeat(len), "b".repeat(len));
            let json = serde_json::json!({ "long": text, "x": 1 }).to_string();
            let got = all_members(&json).unwrap();
            assert_eq!(string(Raw::new(&got[0].1)).unwrap(), text);
            assert_eq!(got[1].1, "1");
        }
        assert_eq!(
            string(Raw::new(r#""caf\u00e9 \"x\"""#)).unwrap(),
            "café \"x\""
        );
        assert!(matches!(
            string(Raw::new(r#""plain""#)).unwrap(),
            Cow::Borrowed("plain")
        ));
    }

    #[test]
    fn broken_structure_is_an_error() {
        for bad in [
            "",
            "[]",
            "{",
            r#"{"a"}"#,
            r#"{"a":}"#,
            r#"{"a":1,}"#,
            r#"{"a":1 "b":2}"#,
            r#"{"a":"x}"#,
            r#"{"a":[1}"#,
            r#"{"a":{]}"#,
            r#"{"a":1} x"#,
            r#"{a:1}"#,
        ] {
            assert!(all_members(bad).is_err(), "{bad:?}");
        }
        assert!(elements("[1,", |_| Ok::<_, ScanError>(())).is_err());
        assert!(elements("{}", |_| Ok::<_, ScanError>(())).is_err());
    }
}
