//! Numbers and currency amounts.
//!
//! In: a cell as people type it in spreadsheets (`1.234,56 €`, `(12.50)`, `1'234`, `50%`, `1e3`)
//! or a JSON number, and the [`DecimalMark`] of the import (a locale's, or the one the file's
//! values decide). Out: a `serde_json::Number`, an integer when the value has no fraction and
//! fits `i64`, or `None` when the text is not one number. Grouping must be consistent (`1,2,3`
//! and `12 5` are refused rather than guessed); with a known decimal mark the other mark only
//! groups (`12,5` is no en-US number); parsing is over bytes into stack buffers, so a cell costs
//! no allocation beyond the stored value.

use serde_json::Number;

use super::DecimalMark;

/// Numbers as people write them: serde_json prints an integral f64 as `12.0`, which nobody types.
pub(super) fn number_text(number: &Number) -> String {
    let text = number.to_string();
    match text.strip_suffix(".0") {
        Some(integral) => integral.to_owned(),
        None => text,
    }
}

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

pub(super) fn normalise_json_number(number: &Number) -> Option<Number> {
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

/// Currencies written with a decimal point wherever they are used: a `$57,500` is fifty-seven
/// thousand even in a file whose other amounts are written `119.500,00 €` (the euro, used with
/// either mark, says nothing).
const POINT_CURRENCY_SYMBOLS: [char; 4] = ['$', '£', '¥', '₹'];
const POINT_CURRENCY_CODES: [&str; 3] = ["USD", "GBP", "CHF"];

/// The decimal mark the currency written with an amount implies, if any.
pub(crate) fn implied_decimal_mark(text: &str) -> Option<DecimalMark> {
    let text = text.trim();
    let has_code = |code: &str| {
        let head = text.get(..3).is_some_and(|h| h.eq_ignore_ascii_case(code));
        let tail = text
            .len()
            .checked_sub(3)
            .and_then(|at| text.get(at..))
            .is_some_and(|t| t.eq_ignore_ascii_case(code));
        head || tail
    };
    let point =
        text.contains(POINT_CURRENCY_SYMBOLS) || POINT_CURRENCY_CODES.iter().any(|c| has_code(c));
    point.then_some(DecimalMark::Point)
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
pub(super) fn parse_number_text(
    text: &str,
    allow_percent: bool,
    decimal_mark: DecimalMark,
) -> Option<Number> {
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
    let magnitude = parse_unsigned(rest, decimal_mark)?;
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
fn parse_unsigned(core: &str, decimal_mark: DecimalMark) -> Option<Number> {
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
    let decimal = match decimal_mark {
        DecimalMark::Point => only_separator(seps, b'.')?,
        DecimalMark::Comma => only_separator(seps, b',')?,
        DecimalMark::Either => decimal_separator(seps, digits)?,
    };
    let int_len = decimal.map_or(digit_count, |i| seps[i].1);
    check_grouping(seps, decimal, int_len)?;
    // `0,750` groups no thousands: no grouped number starts with a zero.
    let grouped = seps.len() > usize::from(decimal.is_some());
    if grouped && digits[0] == b'0' {
        return None;
    }
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

/// The index of the one separator of `kind` (the decimal mark a locale names): `Some(None)`
/// without one, `None` when it occurs twice.
fn only_separator(seps: &[(u8, usize)], kind: u8) -> Option<Option<usize>> {
    let mut found = seps.iter().enumerate().filter(|(_, s)| s.0 == kind);
    let first = found.next().map(|(index, _)| index);
    found.next().is_none().then_some(first)
}

/// Which separator (index into `seps`) is the decimal mark, by the value's own shape. `None`
/// inside means "no decimal mark"; the outer `None` means the separators cannot form a number.
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

#[cfg(test)]
mod tests {
    use crate::schema::value::test_support::*;

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
    fn a_known_decimal_mark_decides_and_the_other_mark_only_groups() {
        use crate::schema::value::DecimalMark;
        let with = |decimal_mark| ValueOptions {
            decimal_mark,
            ..ValueOptions::default()
        };
        let (point, comma) = (with(DecimalMark::Point), with(DecimalMark::Comma));
        let number = field(FieldType::Number);
        let cases: &[(&str, &ValueOptions, Value)] = &[
            ("1.234,5", &comma, json!(1234.5)),
            ("1 234,5", &comma, json!(1234.5)),
            ("1\u{a0}234,5", &comma, json!(1234.5)),
            ("1\u{202f}234,5", &comma, json!(1234.5)),
            ("1.234", &comma, json!(1234)),
            ("1,234", &comma, json!(1.234)),
            ("1.234.567", &comma, json!(1_234_567)),
            ("0,750", &comma, json!(0.75)),
            ("1,234.5", &point, json!(1234.5)),
            ("1.234", &point, json!(1.234)),
            ("1,234", &point, json!(1234)),
            ("1'234.5", &point, json!(1234.5)),
            ("12.5 %", &point, json!(12.5)),
        ];
        for (raw, options, expected) in cases {
            assert_eq!(&ok_with(&number, raw, options), expected, "{raw:?}");
        }
        for (raw, options) in [
            ("12,5", &point),
            ("1.234,5", &point),
            ("1.234.567", &point),
            ("0,750", &point),
            ("12.5", &comma),
            ("1,234.5", &comma),
            ("1,234,567", &comma),
        ] {
            assert!(parse_text(&number, raw, options).is_err(), "{raw:?}");
        }
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
}
