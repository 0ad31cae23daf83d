//! CSV sink: RFC 4180 (comma, `"` quoting only where needed, CRLF line ends), UTF-8 without a
//! byte-order mark.
//!
//! In: columns and typed cells. Out: a header row (unless `includeHeaders` is false) and one row
//! per record. Guarantees: text cells that a spreadsheet would run as a formula (starting with
//! `=`, `+`, `-`, `@`, tab or CR) get a leading `'`, unless they are signed numbers (phones in
//! E.164); numbers, dates and booleans are written by us and never start a formula. Dates use
//! `dateFormat` when given, else ISO 8601 (`2024-01-15`, `2024-01-15T10:30:00Z`), which the
//! import reads back. A field is quoted when it holds a comma, a quote, CR or LF (quotes
//! doubled), and a record of one empty field is written `""` so that it is not an empty line:
//! the output the `csv` crate's writer gives, written straight into one reused buffer.

use std::io::Write;

use super::{Sink, SinkOptions, TextFormats, io_error};
use crate::error::Result;
use crate::export::columns::{Column, MULTI_VALUE_SEPARATOR};
use crate::export::rows::{CellRef, Rows};

/// Bytes gathered before they are handed to the output: as much as the `BufWriter` of an export
/// file holds, so that it passes them on instead of copying them again.
const BUFFER_BYTES: usize = 256 * 1024;

pub struct CsvSink {
    out: Box<dyn Write + Send>,
    /// Encoded rows not yet handed to `out`.
    buffer: Vec<u8>,
    include_headers: bool,
    formats: TextFormats,
    target: String,
    /// One cell's text, reused for every non-text cell.
    text: String,
}

impl CsvSink {
    pub fn new(options: &SinkOptions, out: Box<dyn Write + Send>) -> Result<CsvSink> {
        Ok(CsvSink {
            out,
            buffer: Vec::with_capacity(BUFFER_BYTES + 4 * 1024),
            include_headers: options.include_headers,
            formats: TextFormats::new(
                options.date_format.as_ref(),
                "%Y-%m-%d",
                "%Y-%m-%dT%H:%M:%SZ",
            )?,
            target: options.target.clone(),
            text: String::new(),
        })
    }

    /// Appends one record: its fields, comma-separated, and CRLF. Text (labels and text
    /// cells) is neutralised; what the sink formats (numbers, dates) cannot start a formula.
    fn record<'c>(&mut self, fields: impl ExactSizeIterator<Item = CellRef<'c>>) -> Result<()> {
        let single = fields.len() == 1;
        for (i, field) in fields.enumerate() {
            if i > 0 {
                self.buffer.push(b',');
            }
            match field {
                CellRef::Text(text) => encode(&mut self.buffer, text, true, single),
                cell => {
                    self.text.clear();
                    self.formats.push(cell, &mut self.text);
                    encode(&mut self.buffer, &self.text, false, single);
                }
            }
        }
        self.buffer.extend_from_slice(b"\r\n");
        if self.buffer.len() >= BUFFER_BYTES {
            self.flush_buffer()?;
        }
        Ok(())
    }

    fn flush_buffer(&mut self) -> Result<()> {
        let result = self.out.write_all(&self.buffer);
        self.buffer.clear();
        result.map_err(|e| io_error(&self.target, e))
    }
}

/// Appends one field: `'` before a formula (when `neutralise`), quoted when it must be; an empty
/// field that is a whole record is `""`.
fn encode(out: &mut Vec<u8>, text: &str, neutralise: bool, whole_record: bool) {
    let formula = neutralise && starts_formula(text);
    let bytes = text.as_bytes();
    if !bytes.iter().any(|&b| needs_quotes(b)) {
        if formula {
            out.push(b'\'');
        }
        if bytes.is_empty() && whole_record {
            out.extend_from_slice(b"\"\"");
        }
        out.extend_from_slice(bytes);
        return;
    }
    out.push(b'"');
    if formula {
        out.push(b'\'');
    }
    for (i, part) in text.split('"').enumerate() {
        if i > 0 {
            out.extend_from_slice(b"\"\"");
        }
        out.extend_from_slice(part.as_bytes());
    }
    out.push(b'"');
}

/// The bytes that make a field quoted (as the `csv` crate decides with CRLF records).
fn needs_quotes(b: u8) -> bool {
    matches!(b, b',' | b'"' | b'\r' | b'\n')
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
        self.record(columns.iter().map(|c| CellRef::Text(&c.label)))
    }

    fn write(&mut self, rows: &Rows) -> Result<()> {
        for row in 0..rows.len() {
            self.record(rows.row(row))?;
        }
        Ok(())
    }

    fn finish(mut self: Box<Self>) -> Result<()> {
        self.flush_buffer()?;
        self.out.flush().map_err(|e| io_error(&self.target, e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::export::columns::{Cell, ValueKind};
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
        sink.write(&Rows::from_cells(
            4,
            &[vec![
                Cell::Text("=1+2".into()),
                Cell::Text("say \"hi\", then\nleave".into()),
                Cell::Number(-3.5),
                Cell::Text("@cmd".into()),
            ]],
        ))
        .unwrap();
        sink.finish().unwrap();
        let text = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
        assert_eq!(
            text,
            "A,B,C,D\r\n'=1+2,\"say \"\"hi\"\", then\nleave\",-3.5,'@cmd\r\n"
        );
    }

    /// What the `csv` crate's writer (the sink's encoder before this one) gives for the same
    /// fields, quoting, empty records and all.
    #[test]
    fn same_bytes_as_the_csv_crate() {
        let rows: Vec<Vec<Cell>> = vec![
            vec![Cell::Text("plain".into()), Cell::Empty, Cell::Integer(3)],
            vec![
                Cell::Text("a,b".into()),
                Cell::Text("quote \" inside".into()),
                Cell::Text("cr\rlf\n".into()),
            ],
            vec![
                Cell::Text("=x, \"y\"".into()),
                Cell::Text(" lead".into()),
                Cell::Boolean(true),
            ],
        ];
        let options = SinkOptions {
            include_headers: true,
            date_format: None,
            title: None,
            description: None,
            total_rows: 3,
            target: "test".into(),
        };
        let out = Shared::default();
        let mut sink: Box<dyn Sink> =
            Box::new(CsvSink::new(&options, Box::new(out.clone())).unwrap());
        sink.begin(&[column("A,1"), column("B"), column("-C")])
            .unwrap();
        sink.write(&Rows::from_cells(3, &rows)).unwrap();
        sink.finish().unwrap();
        let mut expected = csv::WriterBuilder::new()
            .terminator(csv::Terminator::CRLF)
            .from_writer(Vec::new());
        expected.write_record(["A,1", "B", "'-C"]).unwrap();
        expected.write_record(["plain", "", "3"]).unwrap();
        expected
            .write_record(["a,b", "quote \" inside", "cr\rlf\n"])
            .unwrap();
        expected
            .write_record(["'=x, \"y\"", " lead", "true"])
            .unwrap();
        assert_eq!(*out.0.lock().unwrap(), expected.into_inner().unwrap());

        // One column: an empty cell is `""`, so that the record is not an empty line.
        let out = Shared::default();
        let mut sink: Box<dyn Sink> =
            Box::new(CsvSink::new(&options, Box::new(out.clone())).unwrap());
        sink.begin(&[column("A")]).unwrap();
        sink.write(&Rows::from_cells(
            1,
            &[vec![Cell::Empty], vec![Cell::Text("x".into())]],
        ))
        .unwrap();
        sink.finish().unwrap();
        assert_eq!(*out.0.lock().unwrap(), b"A\r\n\"\"\r\nx\r\n");
    }
}
