//! Sinks: where exported rows go. One small trait — [`Sink::begin`] with the columns,
//! [`Sink::write`] with each page of rows, [`Sink::finish`] — and one implementation per format.
//!
//! In: typed [`Cell`]s, a page at a time, on a blocking thread. Out: bytes on a `Write`.
//! Guarantees: a sink holds at most what one unit of its format needs (a CSV record, a PDF page,
//! a Parquet row group), never the whole export; `finish` is what makes the output complete, so
//! an export that fails half-way never leaves a file that looks whole.

pub mod csv;
pub mod parquet;
pub mod pdf;

use std::fmt::Write as _;
use std::io::Write;

use chrono::format::Item;
use chrono::{DateTime, Datelike, NaiveDate, Timelike, Utc};

use super::ExportFormat;
use super::columns::Column;
use super::rows::{CellRef, Rows};
use crate::error::{Error, Result};

/// Sinks run on one blocking thread from `open` to `finish`, so they need not be `Send` (the PDF
/// library's document is not).
pub trait Sink {
    fn begin(&mut self, columns: &[Column]) -> Result<()>;
    fn write(&mut self, rows: &Rows) -> Result<()>;
    fn finish(self: Box<Self>) -> Result<()>;
}

/// The settings of a sink, checked before the export starts.
#[derive(Debug, Clone)]
pub struct SinkOptions {
    pub include_headers: bool,
    /// `dateFormat`: applies to dates and date-times in CSV and PDF (Parquet keeps them typed).
    pub date_format: Option<DateFormat>,
    pub title: Option<String>,
    pub description: Option<String>,
    /// How many rows will come (the PDF prints "page N of M" from it).
    pub total_rows: u64,
    /// Names the output in errors: a path or "stdout".
    pub target: String,
}

/// A checked chrono strftime format.
#[derive(Debug, Clone)]
pub struct DateFormat {
    items: Vec<Item<'static>>,
}

impl DateFormat {
    /// Parses a strftime format; `field` names the option in errors.
    pub fn parse(format: &str, field: &str) -> Result<DateFormat> {
        let bad = |why: &str| {
            Error::invalid_field(
                field,
                format!("'{format}' is not a date format ({why}; e.g. %d/%m/%Y)"),
                Some(serde_json::Value::String(format.to_string())),
            )
        };
        if format.trim().is_empty() {
            return Err(bad("empty"));
        }
        let items = chrono::format::StrftimeItems::new(format)
            .parse_to_owned()
            .map_err(|_| bad("unknown % specifier"))?;
        let checked = DateFormat { items };
        // A format can parse and still fail to render (a specifier a UTC time cannot fill).
        let mut probe = String::new();
        write!(probe, "{}", checked.render(DateTime::UNIX_EPOCH))
            .map_err(|_| bad("cannot render"))?;
        Ok(checked)
    }

    fn render(&self, at: DateTime<Utc>) -> impl std::fmt::Display + '_ {
        at.format_with_items(self.items.iter())
    }
}

/// How a sink spells dates and date-times as text.
#[derive(Debug, Clone)]
pub(crate) struct TextFormats {
    date: DateFormat,
    datetime: DateFormat,
    /// The formats are ISO 8601's (`%Y-%m-%d`, `%Y-%m-%dT%H:%M:%SZ`), written digit by digit: a
    /// chrono format walks its items and the `fmt` machinery for every cell, and an export has
    /// two or three date cells per record.
    iso: bool,
}

const ISO_DATE: &str = "%Y-%m-%d";
const ISO_DATETIME: &str = "%Y-%m-%dT%H:%M:%SZ";

impl TextFormats {
    /// `custom` (the request's `dateFormat`) for both, else the given defaults.
    pub(crate) fn new(custom: Option<&DateFormat>, date: &str, datetime: &str) -> Result<Self> {
        Ok(match custom {
            Some(f) => TextFormats {
                date: f.clone(),
                datetime: f.clone(),
                iso: false,
            },
            None => TextFormats {
                date: DateFormat::parse(date, "dateFormat")?,
                datetime: DateFormat::parse(datetime, "dateFormat")?,
                iso: date == ISO_DATE && datetime == ISO_DATETIME,
            },
        })
    }

    /// Appends the cell's text to `out`.
    pub(crate) fn push(&self, cell: CellRef<'_>, out: &mut String) {
        // Writing into a String only fails when a format cannot render, which
        // `DateFormat::parse` ruled out; the cell is then left empty rather than guessed.
        let _ = match cell {
            CellRef::Empty => Ok(()),
            CellRef::Text(t) => {
                out.push_str(t);
                Ok(())
            }
            CellRef::Number(n) => write!(out, "{}", Number(n)),
            CellRef::Integer(i) => write!(out, "{i}"),
            CellRef::Boolean(b) => write!(out, "{b}"),
            CellRef::Date(d) if self.iso && push_iso_date(out, d) => Ok(()),
            CellRef::DateTime(t) if self.iso && push_iso_datetime(out, &t) => Ok(()),
            CellRef::Date(d) => write!(out, "{}", self.date.render(midnight(d))),
            CellRef::DateTime(t) => write!(out, "{}", self.datetime.render(t)),
        };
    }
}

/// `2024-01-15`, as `%Y-%m-%d` gives it; `false` (nothing written) for years chrono writes
/// with a sign or more digits.
fn push_iso_date(out: &mut String, date: NaiveDate) -> bool {
    let Ok(year) = u32::try_from(date.year()) else {
        return false;
    };
    if year > 9999 {
        return false;
    }
    push_digits(out, year, 4);
    out.push('-');
    push_digits(out, date.month(), 2);
    out.push('-');
    push_digits(out, date.day(), 2);
    true
}

/// `2024-01-15T10:30:00Z`, as `%Y-%m-%dT%H:%M:%SZ` gives it; `false` (nothing written) where
/// chrono's own rendering differs (unusual years, leap seconds).
fn push_iso_datetime(out: &mut String, at: &DateTime<Utc>) -> bool {
    // UTC: the naive time is the time shown (no offset to apply).
    let at = at.naive_utc();
    if at.nanosecond() >= 1_000_000_000 || !push_iso_date(out, at.date()) {
        return false;
    }
    out.push('T');
    push_digits(out, at.hour(), 2);
    out.push(':');
    push_digits(out, at.minute(), 2);
    out.push(':');
    push_digits(out, at.second(), 2);
    out.push('Z');
    true
}

/// `n` in decimal, zero-padded to `width` digits (`n` has at most `width` digits).
fn push_digits(out: &mut String, n: u32, width: u32) {
    for place in (0..width).rev() {
        let digit = (n / 10u32.pow(place)) % 10;
        out.push(char::from(b'0' + digit as u8));
    }
}

fn midnight(date: NaiveDate) -> DateTime<Utc> {
    date.and_time(chrono::NaiveTime::MIN).and_utc()
}

/// A number as people type it: no `.0` on whole amounts, no exponent for ordinary magnitudes.
struct Number(f64);

impl std::fmt::Display for Number {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // f64's Display already prints 75000 and 0.1 without noise; -0 reads as 0.
        if self.0 == 0.0 {
            f.write_str("0")
        } else {
            write!(f, "{}", self.0)
        }
    }
}

/// The sink for a format, writing to `out`.
pub fn open(
    format: ExportFormat,
    options: &SinkOptions,
    out: Box<dyn Write + Send>,
) -> Result<Box<dyn Sink>> {
    Ok(match format {
        ExportFormat::Csv => Box::new(csv::CsvSink::new(options, out)?),
        ExportFormat::Pdf => Box::new(pdf::PdfSink::new(options, out)?),
        ExportFormat::Parquet => Box::new(parquet::ParquetSink::new(options, out)),
    })
}

pub(crate) fn io_error(target: &str, source: std::io::Error) -> Error {
    Error::Io {
        path: target.to_string(),
        source,
    }
}

/// A library failure (Parquet, PDF) reported like an I/O failure of the output it was writing.
pub(crate) fn encode_error(target: &str, what: &str, error: impl std::fmt::Display) -> Error {
    io_error(target, std::io::Error::other(format!("{what}: {error}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn date_formats_are_checked_up_front() {
        assert!(DateFormat::parse("%d/%m/%Y", "dateFormat").is_ok());
        assert!(DateFormat::parse("%Q", "dateFormat").is_err());
        assert!(DateFormat::parse("", "dateFormat").is_err());
        let f = TextFormats::new(
            Some(&DateFormat::parse("%d.%m.%Y %Hh", "d").unwrap()),
            "",
            "",
        )
        .unwrap();
        let mut out = String::new();
        f.push(
            CellRef::Date(NaiveDate::from_ymd_opt(2024, 1, 15).unwrap()),
            &mut out,
        );
        assert_eq!(out, "15.01.2024 00h");
    }

    /// The hand-written ISO forms are chrono's, for every kind of date the fast path takes and
    /// the ones it leaves to chrono.
    #[test]
    fn iso_dates_are_chronos() {
        let iso = TextFormats::new(None, ISO_DATE, ISO_DATETIME).unwrap();
        assert!(iso.iso);
        let chrono_only = TextFormats {
            iso: false,
            ..iso.clone()
        };
        let mut cells = Vec::new();
        for (y, m, d) in [
            (2024, 1, 15),
            (1, 12, 31),
            (999, 2, 28),
            (9999, 12, 31),
            (-1, 1, 1),
            (10_000, 1, 1),
            (1970, 1, 1),
        ] {
            let date = NaiveDate::from_ymd_opt(y, m, d).unwrap();
            cells.push(CellRef::Date(date));
            for (h, min, s) in [(0, 0, 0), (10, 30, 5), (23, 59, 59)] {
                let at = date.and_hms_opt(h, min, s).unwrap().and_utc();
                cells.push(CellRef::DateTime(at));
            }
            let leap = date.and_hms_milli_opt(23, 59, 59, 1_500).unwrap().and_utc();
            cells.push(CellRef::DateTime(leap));
        }
        for cell in cells {
            let (mut fast, mut slow) = (String::new(), String::new());
            iso.push(cell, &mut fast);
            chrono_only.push(cell, &mut slow);
            assert_eq!(fast, slow, "{cell:?}");
        }
        assert!(!TextFormats::new(None, ISO_DATE, "%+").unwrap().iso);
    }

    #[test]
    fn numbers_print_as_typed() {
        let f = TextFormats::new(None, "%Y-%m-%d", "%+").unwrap();
        for (n, text) in [
            (75000.0, "75000"),
            (0.1, "0.1"),
            (-12.5, "-12.5"),
            (-0.0, "0"),
        ] {
            let mut out = String::new();
            f.push(CellRef::Number(n), &mut out);
            assert_eq!(out, text);
        }
    }
}
