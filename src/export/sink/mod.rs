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
use chrono::{DateTime, NaiveDate, Utc};

use super::ExportFormat;
use super::columns::{Cell, Column};
use crate::error::{Error, Result};

/// Sinks run on one blocking thread from `open` to `finish`, so they need not be `Send` (the PDF
/// library's document is not).
pub trait Sink {
    fn begin(&mut self, columns: &[Column]) -> Result<()>;
    fn write(&mut self, rows: &[Vec<Cell>]) -> Result<()>;
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
}

impl TextFormats {
    /// `custom` (the request's `dateFormat`) for both, else the given defaults.
    pub(crate) fn new(custom: Option<&DateFormat>, date: &str, datetime: &str) -> Result<Self> {
        Ok(match custom {
            Some(f) => TextFormats {
                date: f.clone(),
                datetime: f.clone(),
            },
            None => TextFormats {
                date: DateFormat::parse(date, "dateFormat")?,
                datetime: DateFormat::parse(datetime, "dateFormat")?,
            },
        })
    }

    /// Appends the cell's text to `out`.
    pub(crate) fn push(&self, cell: &Cell, out: &mut String) {
        // Writing into a String only fails when a format cannot render, which
        // `DateFormat::parse` ruled out; the cell is then left empty rather than guessed.
        let _ = match cell {
            Cell::Empty => Ok(()),
            Cell::Text(t) => {
                out.push_str(t);
                Ok(())
            }
            Cell::Number(n) => write!(out, "{}", Number(*n)),
            Cell::Integer(i) => write!(out, "{i}"),
            Cell::Boolean(b) => write!(out, "{b}"),
            Cell::Date(d) => write!(out, "{}", self.date.render(midnight(*d))),
            Cell::DateTime(t) => write!(out, "{}", self.datetime.render(*t)),
        };
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
            &Cell::Date(NaiveDate::from_ymd_opt(2024, 1, 15).unwrap()),
            &mut out,
        );
        assert_eq!(out, "15.01.2024 00h");
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
            f.push(&Cell::Number(n), &mut out);
            assert_eq!(out, text);
        }
    }
}
