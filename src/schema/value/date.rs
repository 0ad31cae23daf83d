//! Dates and date-times.
//!
//! In: a trimmed cell (ISO 8601, `YYYYMMDD`, `M/D/Y` or `D/M/Y`, month names, weekdays, ordinal
//! days, AM/PM clocks, zones) or an Excel serial number, and whether ambiguous numeric dates are
//! day-first. Out: a [`NaiveDate`] or a UTC [`NaiveDateTime`], formatted by [`format_date`]
//! (`2024-01-15`) and [`format_datetime`] (`2024-01-15T10:30:00Z`, `.123` only when non-zero);
//! `None` for impossible or unclear text (`2024-02-30`, `03/04-2024`, `Jan 2024`). A date read
//! from a date-time keeps its local date, what the writer saw.

use chrono::{Datelike, Days, NaiveDate, NaiveDateTime, NaiveTime, TimeDelta, Timelike};

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

pub(super) fn excel_serial_date(serial: f64) -> Option<NaiveDate> {
    if !EXCEL_SERIAL_RANGE.contains(&serial) {
        return None;
    }
    excel_date(serial.floor() as u32)
}

pub(super) fn excel_serial_datetime(serial: f64) -> Option<NaiveDateTime> {
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

/// `YYYY-MM-DD`. Written digit by digit: this runs for every date cell of an import, and the
/// formatting machinery cost more than parsing the date.
pub(super) fn format_date(date: NaiveDate) -> String {
    let year = date.year();
    if !(0..=9999).contains(&year) {
        return format!("{year:04}-{:02}-{:02}", date.month(), date.day());
    }
    let mut out = String::with_capacity(24);
    push_date(&mut out, year.unsigned_abs(), date.month(), date.day());
    out
}

/// `YYYY-MM-DDTHH:MM:SSZ`, with `.mmm` before the `Z` when the milliseconds are not zero.
pub(super) fn format_datetime(datetime: NaiveDateTime) -> Option<String> {
    let year = datetime.year();
    if !(1..=9999).contains(&year) {
        return None;
    }
    let mut out = String::with_capacity(24);
    push_date(
        &mut out,
        year.unsigned_abs(),
        datetime.month(),
        datetime.day(),
    );
    out.push('T');
    push_padded(&mut out, datetime.hour(), 2);
    out.push(':');
    push_padded(&mut out, datetime.minute(), 2);
    out.push(':');
    push_padded(&mut out, datetime.second(), 2);
    let millis = datetime.nanosecond() / 1_000_000;
    if millis != 0 {
        out.push('.');
        push_padded(&mut out, millis, 3);
    }
    out.push('Z');
    Some(out)
}

fn push_date(out: &mut String, year: u32, month: u32, day: u32) {
    push_padded(out, year, 4);
    out.push('-');
    push_padded(out, month, 2);
    out.push('-');
    push_padded(out, day, 2);
}

/// `value` in decimal, zero-padded to `width` digits (as `{:0width$}` writes it).
fn push_padded(out: &mut String, value: u32, width: u32) {
    let digits = value.checked_ilog10().unwrap_or(0) + 1;
    for _ in digits..width {
        out.push('0');
    }
    let mut divisor = 10u32.pow(digits - 1);
    while divisor > 0 {
        out.push(char::from(b'0' + (value / divisor % 10) as u8));
        divisor /= 10;
    }
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
pub(super) fn parse_date_text(text: &str, day_first: bool) -> Option<NaiveDate> {
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
pub(super) fn parse_datetime_text(text: &str, day_first: bool) -> Option<NaiveDateTime> {
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
    use super::{NaiveDate, format_date, format_datetime};
    use crate::schema::value::test_support::*;

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
    fn dates_and_times_format_as_the_format_macro_does() {
        let dates = [
            (1, 1, 1),
            (999, 12, 31),
            (2024, 1, 5),
            (9999, 12, 31),
            (1900, 2, 28),
        ];
        for (year, month, day) in dates {
            let date = NaiveDate::from_ymd_opt(year, month, day).unwrap();
            assert_eq!(format_date(date), format!("{year:04}-{month:02}-{day:02}"));
            for (hour, minute, second, millis) in [(0, 0, 0, 0), (9, 5, 7, 1), (23, 59, 59, 999)] {
                let datetime = date
                    .and_hms_milli_opt(hour, minute, second, millis)
                    .unwrap();
                let expected = if millis == 0 {
                    format!("{year:04}-{month:02}-{day:02}T{hour:02}:{minute:02}:{second:02}Z")
                } else {
                    format!(
                        "{year:04}-{month:02}-{day:02}T{hour:02}:{minute:02}:{second:02}.{millis:03}Z"
                    )
                };
                assert_eq!(format_datetime(datetime), Some(expected));
            }
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
}
