//! CSV sink: RFC 4180 (comma, `"` quoting only where needed, CRLF line ends), UTF-8 without a
//! byte-order mark.
//!
//! In: columns and typed cells. Out: a header row (unless `includeHeaders` is false) and one row
//! per record. Guarantees: text cells that a spreadsheet would run as a formula (starting with
//! `=`, `+`, `-`, `@`, tab or CR) get a leading `'`, unless they are signed numbers (phones in
//! E.164); numbers, dates and booleans are written by us and never start a formula. Dates use `dateFormat` when given,
//! else ISO 8601 (`2024-01-15`, `2024-01-15T10:30:00Z`), which the import reads back.

use std::io::Write;

use super::{Sink, SinkOptions, TextFormats, encode_error, io_error};
use crate::error::{Error, Result};
use crate::export::columns::{Cell, Column, MULTI_VALUE_SEPARATOR};

pub struct CsvSink {
    writer: csv::Writer<Box<dyn Write + Send>>,
    include_headers: bool,
    formats: TextFormats,
    target: String,
    /// One cell's text, reused for every cell.
    buffer: String,
}

impl CsvSink {
    pub fn new(options: &SinkOptions, out: Box<dyn Write + Send>) -> Result<CsvSink> {
        let writer = csv::WriterBuilder::new()
            .terminator(csv::Terminator::CRLF)
            .buffer_capacity(64 * 1024)
            .from_writer(out);
        Ok(CsvSink {
            writer,
            include_headers: options.include_headers,
            formats: TextFormats::new(
                options.date_format.as_ref(),
                "%Y-%m-%d",
                "%Y-%m-%dT%H:%M:%SZ",
            )?,
            target: options.target.clone(),
            buffer: String::new(),
        })
    }

    fn error(&self, e: csv::Error) -> Error {
        match e.into_kind() {
            csv::ErrorKind::Io(io) => io_error(&self.target, io),
            other => encode_error(&self.target, "CSV", format!("{other:?}")),
        }
    }

    fn field(&mut self, text: &str) -> Result<()> {
        let result = if starts_formula(text) {
            self.writer.write_field(format!("'{text}"))
        } else {
            self.writer.write_field(text)
        };
        result.map_err(|e| self.error(e))
    }

    fn end_record(&mut self) -> Result<()> {
        self.writer
            .write_record(std::iter::empty::<&[u8]>())
            .map_err(|e| self.error(e))
    }
}

/// Whether a spreadsheet would read the text as a formula (OWASP's list). Signed numbers and
/// lists of them (`-1500.5`, an E.164 phone `+12125550147`, `+1…; +44…`) are exempt: without
/// letters or operators between values they can call nothing, and a `'` would stop the import
/// from reading them back as phones.
pub fn starts_formula(text: &str) -> bool {
    matches!(
        text.as_bytes().first(),
        Some(b'=' | b'+' | b'-' | b'@' | b'\t' | b'\r')
    ) && !text.split(MULTI_VALUE_SEPARATOR).all(is_signed_number)
}

fn is_signed_number(text: &str) -> bool {
    let digits = text.strip_prefix(['+', '-']).unwrap_or(text);
    let (whole, fraction) = digits.split_once('.').unwrap_or((digits, "0"));
    !whole.is_empty()
        && !fraction.is_empty()
        && whole.bytes().all(|b| b.is_ascii_digit())
        && fraction.bytes().all(|b| b.is_ascii_digit())
}

impl Sink for CsvSink {
    fn begin(&mut self, columns: &[Column]) -> Result<()> {
        if !self.include_headers {
            return Ok(());
        }
        for column in columns {
            self.field(&column.label)?;
        }
        self.end_record()
    }

    fn write(&mut self, rows: &[Vec<Cell>]) -> Result<()> {
        for row in rows {
            for cell in row {
                let mut text = std::mem::take(&mut self.buffer);
                text.clear();
                self.formats.push(cell, &mut text);
                let result = match cell {
                    Cell::Text(_) => self.field(&text),
                    _ => self.writer.write_field(&text).map_err(|e| self.error(e)),
                };
                self.buffer = text;
                result?;
            }
            self.end_record()?;
        }
        Ok(())
    }

    fn finish(mut self: Box<Self>) -> Result<()> {
        self.writer.flush().map_err(|e| io_error(&self.target, e))?;
        let target = self.target.clone();
        let mut out = self
            .writer
            .into_inner()
            .map_err(|e| io_error(&target, std::io::Error::other(e.to_string())))?;
        out.flush().map_err(|e| io_error(&target, e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::export::columns::ValueKind;
    use std::sync::{Arc, Mutex};

    #[derive(Clone, Default)]
    struct Shared(Arc<Mutex<Vec<u8>>>);
    impl Write for Shared {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn column(label: &str) -> Column {
        Column {
            key: label.to_lowercase(),
            label: label.to_string(),
            kind: ValueKind::Text,
            source: crate::export::columns::Source::Core(crate::export::columns::Core::Id),
        }
    }

    #[test]
    fn formulas_but_not_numbers() {
        for text in [
            "=1+2",
            "@SUM(A1)",
            "+cmd|' /C calc'!A0",
            "-10+20",
            "\tx",
            "+1 x2",
            "-",
            "+",
        ] {
            assert!(starts_formula(text), "{text:?}");
        }
        for text in ["+12125550147", "-1500.5", "+1; +44", "plain", "", "1-2"] {
            assert!(!starts_formula(text), "{text:?}");
        }
    }

    #[test]
    fn quotes_and_neutralises() {
        let out = Shared::default();
        let options = SinkOptions {
            include_headers: true,
            date_format: None,
            title: None,
            description: None,
            total_rows: 1,
            target: "test".into(),
        };
        let mut sink: Box<dyn Sink> =
            Box::new(CsvSink::new(&options, Box::new(out.clone())).unwrap());
        sink.begin(&[column("A"), column("B"), column("C"), column("D")])
            .unwrap();
        sink.write(&[vec![
            Cell::Text("=1+2".into()),
            Cell::Text("say \"hi\", then\nleave".into()),
            Cell::Number(-3.5),
            Cell::Text("@cmd".into()),
        ]])
        .unwrap();
        sink.finish().unwrap();
        let text = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
        assert_eq!(
            text,
            "A,B,C,D\r\n'=1+2,\"say \"\"hi\"\", then\nleave\",-3.5,'@cmd\r\n"
        );
    }
}
