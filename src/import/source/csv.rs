//! The CSV source: bytes in any common encoding, any of four delimiters, out come rows.
//!
//! Opening reads the first 64 KiB once to detect the encoding (BOM, then UTF-16 without a BOM,
//! then UTF-8, then a `chardetng` guess) and the delimiter, then seeks back and streams the file
//! through [`Utf8Input`], which hands the `csv` crate UTF-8 whatever the file's encoding. Memory
//! is the 64 KiB buffers plus one record, whatever the file size; a record is capped at what its
//! cells could take under the cell limit, so even a quote left open cannot swallow the file.

use std::fs::File;
use std::io::{Seek, SeekFrom};
use std::path::{Path, PathBuf};

use ::csv::{ByteRecord, ErrorKind, Reader, ReaderBuilder, Terminator};
use encoding_rs::UTF_8;

use super::text::{
    BUFFER_BYTES, LineEnds, MalformedInput, PREFIX_BYTES, RecordTooLong, Utf8Input,
    detect_encoding, forced_encoding, read_full,
};
use super::{
    FileType, RowNumbers, Source, SourceInfo, SourceLimits, SourceOptions, SourceRow,
    distinct_names, file_name, io_error, source_error,
};
use crate::{Error, Result};

/// How many records delimiter detection compares.
const SNIFF_RECORDS: usize = 20;
const DELIMITERS: [u8; 4] = [b',', b';', b'\t', b'|'];
/// A floor for the record budget, so tiny test limits do not reject ordinary headers.
const MIN_RECORD_BUDGET: u64 = 64 * 1024;

pub(crate) struct CsvSource {
    reader: Reader<Utf8Input<File>>,
    /// Reused for every record, so reading allocates only when a record is bigger than any before.
    record: ByteRecord,
    columns: Vec<String>,
    info: SourceInfo,
    path: PathBuf,
    limits: SourceLimits,
    /// UTF-8 files are passed through undecoded, so their bytes are checked record by record.
    check_utf8: bool,
    encoding_forced: bool,
    /// Line breaks inside quoted cells of the records read so far: what separates line numbers
    /// from row numbers.
    lines_inside_cells: u64,
    last_row: u64,
    /// Subtracted from each file row number: the header's row when only data rows count (see
    /// [`RowNumbers`]), else 0.
    rows_before_data: u64,
    /// The most bytes one record may take; see [`record_budget`].
    record_budget: u64,
}

impl CsvSource {
    /// Opens and reads the header row. The caller ([`super::open`]) has checked the file size.
    pub(crate) fn open(path: &Path, options: &SourceOptions) -> Result<CsvSource> {
        let mut file = File::open(path).map_err(|e| io_error(path, e))?;
        let mut prefix = vec![0; PREFIX_BYTES];
        let len = read_full(&mut file, &mut prefix).map_err(|e| io_error(path, e))?;
        prefix.truncate(len);
        if prefix.is_empty() {
            return Err(empty_file(path));
        }
        let whole_file = len < PREFIX_BYTES;

        let (encoding, bom_len) = match &options.encoding {
            Some(label) => forced_encoding(label, &prefix)?,
            None => detect_encoding(&prefix, whole_file),
        };
        // Lossy is fine here: the text only feeds the delimiter guess.
        let (text, _) = encoding.decode_without_bom_handling(&prefix[bom_len..]);
        let delimiter = match options.delimiter {
            Some(forced) => forced_delimiter(forced)?,
            None => sniff_delimiter(&text, !whole_file),
        };

        file.seek(SeekFrom::Start(bom_len as u64))
            .map_err(|e| io_error(path, e))?;
        let decoder = (encoding != UTF_8).then(|| encoding.new_decoder_without_bom_handling());
        // CR, LF and CRLF outside quotes all reach the reader as one LF (see `LineEnds`).
        let line_ends = LineEnds::new(delimiter);
        let input = Utf8Input::new(file, decoder, Some(line_ends), bom_len as u64);
        let reader = ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .quoting(true)
            .double_quote(true)
            .delimiter(delimiter)
            // LF only, not CRLF: with CRLF the reader consumes the LF of a record's CRLF while
            // reading the *next* record, which makes line counts ambiguous, and row numbers are
            // computed from them. `LineEnds` turns every row end (CR, LF, CRLF) into one LF.
            .terminator(Terminator::Any(b'\n'))
            .buffer_capacity(BUFFER_BYTES)
            .from_reader(input);

        let mut source = CsvSource {
            reader,
            record: ByteRecord::new(),
            columns: Vec::new(),
            info: SourceInfo {
                file_type: FileType::Csv,
                file_name: file_name(path),
                encoding: Some(encoding.name().to_ascii_lowercase()),
                delimiter: Some(char::from(delimiter)),
                sheet_names: Vec::new(),
                sheet: None,
            },
            path: path.to_path_buf(),
            limits: options.limits,
            check_utf8: encoding == UTF_8,
            encoding_forced: options.encoding.is_some(),
            lines_inside_cells: 0,
            last_row: 0,
            rows_before_data: 0,
            record_budget: record_budget(&options.limits, 1),
        };
        let Some(header_row) = source.advance()? else {
            return Err(empty_file(path));
        };
        if options.row_numbers == RowNumbers::DataRows {
            source.rows_before_data = header_row;
        }
        let names = (0..source.record.len())
            .map(|i| {
                let name = String::from_utf8_lossy(source.field(i));
                let name = name.trim_matches(|c: char| c.is_whitespace() || c == '\u{feff}');
                if name.is_empty() {
                    format!("Column {}", i + 1)
                } else {
                    name.to_string()
                }
            })
            .collect();
        source.columns = distinct_names(&source.info.file_name, names)?;
        source.record_budget = record_budget(&source.limits, source.columns.len());
        Ok(source)
    }

    /// Reads the next record that is not blank into `self.record` and checks it against the
    /// limits; returns its row number, or `None` at the end of the file.
    fn advance(&mut self) -> Result<Option<u64>> {
        loop {
            let start = self.reader.position().byte();
            self.reader
                .get_mut()
                .start_record(start, self.record_budget);
            let more = match self.reader.read_byte_record(&mut self.record) {
                Ok(more) => more,
                Err(err) => return Err(self.csv_error(err)),
            };
            if !more {
                return Ok(None);
            }
            let row = self.row_number();
            self.last_row = row;
            // Spreadsheets write empty rows as a line of delimiters; neither kind is data.
            if (0..self.record.len()).all(|i| self.field(i).is_empty()) {
                continue;
            }
            self.check(row)?;
            return Ok(Some(row));
        }
    }

    /// The row number of the record just read.
    ///
    /// The reader counts LFs (its "line"). A record's start line is its end line minus the LFs
    /// inside its cells and minus its own terminating LF; subtracting the LFs inside the cells
    /// of earlier records turns that line into a row number, with skipped blank lines counted.
    fn row_number(&mut self) -> u64 {
        let start = self.record.position().map_or(1, |p| p.line());
        let end = self.reader.position().line();
        // A record ends at its LF, and the reader returns it as soon as it sees that LF, so the
        // input has only reported its end if the record was ended by the end of the file (no
        // final newline, or a quote left open).
        let own_lf = u64::from(!self.reader.get_ref().eof);
        // Lines consumed = blank lines before + LFs inside cells + own LF; counting the LFs
        // inside cells is only needed when the record took more than its own line.
        if end - start != own_lf {
            self.lines_inside_cells += self
                .record
                .as_slice()
                .iter()
                .filter(|&&b| b == b'\n')
                .count() as u64;
        }
        (end - own_lf - self.lines_inside_cells).saturating_sub(self.rows_before_data)
    }

    /// Cell `i` of the current record.
    fn field(&self, i: usize) -> &[u8] {
        &self.record[i]
    }

    fn check(&self, row: u64) -> Result<()> {
        let width = self.record.len();
        if width > self.limits.max_columns {
            return Err(Error::TooLarge {
                file: self.info.file_name.clone(),
                message: format!(
                    "row {row} has {width} columns, over the limit of {}",
                    self.limits.max_columns
                ),
            });
        }
        // No cell can be longer than the whole record, so most records skip the per-cell loop.
        if self.record.as_slice().len() > self.limits.max_cell_bytes {
            for i in 0..width {
                let len = self.field(i).len();
                if len > self.limits.max_cell_bytes {
                    return Err(Error::TooLarge {
                        file: self.info.file_name.clone(),
                        message: format!(
                            "row {row}, column '{}': the cell is {}, over the limit of {}",
                            self.column_name(i),
                            super::human_bytes(len as u64),
                            super::human_bytes(self.limits.max_cell_bytes as u64)
                        ),
                    });
                }
            }
        }
        if self.check_utf8 && std::str::from_utf8(self.record.as_slice()).is_err() {
            // Delimiters are ASCII, so they never split a UTF-8 sequence: some cell is bad.
            let bad = (0..width)
                .find(|&i| std::str::from_utf8(&self.record[i]).is_err())
                .unwrap_or(0);
            let hint = if self.encoding_forced {
                "the file does not match the chosen encoding"
            } else {
                "the start of the file looked like UTF-8, but this is not; choose the file's \
                 encoding (e.g. windows-1252) explicitly"
            };
            return Err(Error::Source {
                file: self.info.file_name.clone(),
                row: Some(row),
                column: Some(self.column_name(bad)),
                message: format!("the cell is not valid UTF-8: {hint}"),
            });
        }
        Ok(())
    }

    fn column_name(&self, i: usize) -> String {
        self.columns
            .get(i)
            .cloned()
            .unwrap_or_else(|| format!("Column {}", i + 1))
    }

    fn defect(&self) -> Option<String> {
        let (width, expected) = (self.record.len(), self.columns.len());
        if width == expected {
            return None;
        }
        let cells = if width == 1 { "cell" } else { "cells" };
        Some(format!(
            "row has {width} {cells}, the header has {expected}"
        ))
    }

    fn current_row(&self, row_number: u64) -> SourceRow {
        let width = self.record.len();
        // The record is valid UTF-8 (checked in `check`, or produced by the decoder) and the
        // delimiters are ASCII, so the text is validated once for the record and each cell is a
        // slice of it; `from_utf8_lossy` per cell validated every byte a second time.
        let text = std::str::from_utf8(self.record.as_slice()).ok();
        let cells = (0..self.columns.len())
            .map(|i| match (text, self.record.range(i)) {
                _ if i >= width => String::new(),
                (Some(text), Some(range)) => text[range].to_owned(),
                _ => String::from_utf8_lossy(self.field(i)).into_owned(),
            })
            .collect();
        SourceRow {
            row_number,
            cells,
            defect: self.defect(),
        }
    }

    fn csv_error(&self, err: ::csv::Error) -> Error {
        let message = err.to_string();
        match err.into_kind() {
            ErrorKind::Io(io) => {
                let inner = io.get_ref();
                if let Some(too_long) = inner.and_then(|e| e.downcast_ref::<RecordTooLong>()) {
                    let message = if self.columns.is_empty() {
                        format!(
                            "the header row is over {}; a quote may be left open",
                            super::human_bytes(too_long.budget)
                        )
                    } else {
                        format!(
                            "the row after row {} is over {}, more than {} cells of at most {} \
                             can take; a quote may be left open",
                            self.last_row,
                            super::human_bytes(too_long.budget),
                            self.columns.len(),
                            super::human_bytes(self.limits.max_cell_bytes as u64),
                        )
                    };
                    Error::TooLarge {
                        file: self.info.file_name.clone(),
                        message,
                    }
                } else if let Some(bad) = inner.and_then(|e| e.downcast_ref::<MalformedInput>()) {
                    let hint = if self.encoding_forced {
                        "the file does not match the chosen encoding"
                    } else {
                        "choose the file's encoding explicitly"
                    };
                    Error::Source {
                        file: self.info.file_name.clone(),
                        row: None,
                        column: None,
                        message: format!("{bad}, after row {}; {hint}", self.last_row),
                    }
                } else {
                    io_error(&self.path, io)
                }
            }
            _ => Error::Source {
                file: self.info.file_name.clone(),
                row: None,
                column: None,
                message: format!("after row {}: {message}", self.last_row),
            },
        }
    }
}

impl Source for CsvSource {
    fn columns(&self) -> &[String] {
        &self.columns
    }

    fn next_chunk(&mut self, max_rows: usize) -> Result<Vec<SourceRow>> {
        let max_rows = max_rows.max(1);
        let mut rows = Vec::with_capacity(max_rows.min(4096));
        while rows.len() < max_rows {
            let Some(row) = self.advance()? else { break };
            rows.push(self.current_row(row));
        }
        Ok(rows)
    }

    fn describe(&self) -> SourceInfo {
        self.info.clone()
    }

    fn count_rest(&mut self, on_defect: &mut dyn FnMut(u64, &str)) -> Result<u64> {
        let mut count = 0;
        while let Some(row) = self.advance()? {
            count += 1;
            if let Some(defect) = self.defect() {
                on_defect(row, &defect);
            }
        }
        Ok(count)
    }
}

/// The most bytes a record of `width` cells can take when every cell is within the cell limit
/// (each quote doubled, plus quotes and a delimiter). Without it, a quote left open would make
/// the rest of the file one cell, read into memory before the cell limit could see it.
fn record_budget(limits: &SourceLimits, width: usize) -> u64 {
    let per_cell = 2 * limits.max_cell_bytes as u64 + 3;
    (per_cell * width.max(1) as u64).max(MIN_RECORD_BUDGET)
}

fn empty_file(path: &Path) -> Error {
    source_error(path, "the file is empty (no header row)")
}

fn forced_delimiter(delimiter: char) -> Result<u8> {
    match u8::try_from(delimiter) {
        Ok(byte) if byte.is_ascii() && !matches!(byte, b'"' | b'\r' | b'\n') => Ok(byte),
        _ => Err(Error::invalid_field(
            "delimiter",
            "must be one ASCII character other than a quote or a line break",
            Some(delimiter.to_string().into()),
        )),
    }
}

/// The delimiter among `,` `;` tab `|` that splits the first records into the most consistent
/// number of fields (more than one); `,` when none does. Quotes are respected, so delimiters
/// and line breaks inside quoted cells do not count. `truncated` says the text is a prefix, so
/// its last record may be cut short and is left out.
fn sniff_delimiter(text: &str, truncated: bool) -> u8 {
    let mut records: Vec<[usize; 4]> = Vec::new();
    let mut current = [0usize; 4];
    let mut in_quotes = false;
    let mut has_content = false;
    for &byte in text.as_bytes() {
        if records.len() == SNIFF_RECORDS {
            break;
        }
        match byte {
            // A doubled quote toggles twice, so escaped quotes need no special case.
            b'"' => {
                in_quotes = !in_quotes;
                has_content = true;
            }
            _ if in_quotes => {}
            b'\n' | b'\r' => {
                if has_content {
                    records.push(current);
                }
                current = [0; 4];
                has_content = false;
            }
            _ => {
                if let Some(i) = DELIMITERS.iter().position(|&d| d == byte) {
                    current[i] += 1;
                }
                has_content = true;
            }
        }
    }
    if has_content && !in_quotes && !truncated && records.len() < SNIFF_RECORDS {
        records.push(current);
    }

    // Score: how many records share the most common field count; then the larger count (a
    // tab-separated file whose names contain one comma each is still tab-separated); then the
    // order of DELIMITERS.
    let mut best: Option<((usize, usize), u8)> = None;
    for (i, &delimiter) in DELIMITERS.iter().enumerate() {
        let mut tally: Vec<(usize, usize)> = Vec::new();
        for record in &records {
            let fields = record[i] + 1;
            match tally.iter_mut().find(|(count, _)| *count == fields) {
                Some((_, seen)) => *seen += 1,
                None => tally.push((fields, 1)),
            }
        }
        let Some(&(fields, seen)) = tally.iter().max_by_key(|&&(fields, seen)| (seen, fields))
        else {
            continue;
        };
        if fields < 2 {
            continue;
        }
        if best.is_none_or(|(score, _)| (seen, fields) > score) {
            best = Some(((seen, fields), delimiter));
        }
    }
    best.map_or(b',', |(_, delimiter)| delimiter)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::import::source::SourceLimits;

    fn write(dir: &tempfile::TempDir, name: &str, bytes: &[u8]) -> PathBuf {
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        path
    }

    fn open_bytes(bytes: &[u8]) -> Result<CsvSource> {
        open_with(bytes, &SourceOptions::default())
    }

    fn open_with(bytes: &[u8], options: &SourceOptions) -> Result<CsvSource> {
        let dir = tempfile::tempdir().unwrap();
        let path = write(&dir, "t.csv", bytes);
        CsvSource::open(&path, options)
    }

    fn all_rows(source: &mut CsvSource) -> Vec<SourceRow> {
        let mut rows = Vec::new();
        loop {
            let chunk = source.next_chunk(2).unwrap();
            if chunk.is_empty() {
                return rows;
            }
            rows.extend(chunk);
        }
    }

    /// (row number, cells) of every data row.
    fn rows_of(bytes: &[u8]) -> Vec<(u64, Vec<String>)> {
        let mut source = open_bytes(bytes).unwrap();
        all_rows(&mut source)
            .into_iter()
            .map(|r| (r.row_number, r.cells))
            .collect()
    }

    fn cells(values: &[&str]) -> Vec<String> {
        values.iter().map(|v| v.to_string()).collect()
    }

    fn utf16le(text: &str, bom: bool) -> Vec<u8> {
        let mut bytes = if bom { vec![0xFF, 0xFE] } else { Vec::new() };
        bytes.extend(text.encode_utf16().flat_map(u16::to_le_bytes));
        bytes
    }

    #[test]
    fn delimiters() {
        assert_eq!(sniff_delimiter("a,b,c\n1,2,3\n", false), b',');
        assert_eq!(sniff_delimiter("a\tb\n1\t2\n", false), b'\t');
        assert_eq!(sniff_delimiter("a|b|c\n1|2|3\n", false), b'|');
        // Decimal commas do not beat a consistent semicolon.
        assert_eq!(
            sniff_delimiter("name;amount\nAna;1,50\nBo;2,75\n", false),
            b';'
        );
        // Delimiters and line breaks inside quotes do not count.
        assert_eq!(
            sniff_delimiter("a;b\n\"x,y,z\";\"1\n,2,\"\"3\"\"\"\n", false),
            b';'
        );
        // Names with one comma each in a tab file: both consistent, tab splits more.
        assert_eq!(
            sniff_delimiter("name\tcity\tzip\n\"Doe, J\"\tX\t1\nSmith, A\tY\t2\n", false),
            b'\t'
        );
        // One column: nothing splits, so the default.
        assert_eq!(sniff_delimiter("email\na@x.io\n", false), b',');
        // CR-only line ends.
        assert_eq!(sniff_delimiter("a;b\r1;2\r", false), b';');
    }

    #[test]
    fn delimiter_sniff_ignores_a_cut_last_record() {
        // As a prefix, the cut last line (with four commas) is left out.
        assert_eq!(sniff_delimiter("a;b\n1;2\n3;4\nx,y,z,w,v", true), b';');
    }

    #[test]
    fn header_names_are_trimmed_filled_and_distinct() {
        let source = open_bytes(b" Name ,,Email,Email,\xEF\xBB\xBFNotes,Email (2)\n").unwrap();
        assert_eq!(
            source.columns(),
            &cells(&[
                "Name",
                "Column 2",
                "Email",
                "Email (3)",
                "Notes",
                "Email (2)"
            ])
        );
    }

    #[test]
    fn row_numbers_count_blank_lines_and_multi_line_cells_once() {
        let lf = b"h1,h2\n\na,1\n\"multi\nline\",2\n,\nb,3\n";
        let expected = vec![
            (3, cells(&["a", "1"])),
            (4, cells(&["multi\nline", "2"])),
            (6, cells(&["b", "3"])),
        ];
        assert_eq!(rows_of(lf), expected);
        let crlf = b"h1,h2\r\n\r\na,1\r\n\"multi\r\nline\",2\r\n,\r\nb,3\r\n";
        let expected_crlf = vec![
            (3, cells(&["a", "1"])),
            (4, cells(&["multi\r\nline", "2"])),
            (6, cells(&["b", "3"])),
        ];
        assert_eq!(rows_of(crlf), expected_crlf);
    }

    #[test]
    fn data_row_numbers_count_from_the_first_row_after_the_header() {
        let options = SourceOptions {
            row_numbers: RowNumbers::DataRows,
            ..SourceOptions::default()
        };
        let bytes = b"\n\nh1,h2\na,1\n\"multi\nline\",2\n,\nb,3\n";
        let mut source = open_with(bytes, &options).unwrap();
        let numbers: Vec<u64> = all_rows(&mut source).iter().map(|r| r.row_number).collect();
        assert_eq!(numbers, [1, 2, 4]);
    }

    #[test]
    fn row_numbers_without_final_newline_and_with_leading_blank_lines() {
        assert_eq!(
            rows_of(b"h\na\n\nb"),
            vec![(2, cells(&["a"])), (4, cells(&["b"]))]
        );
        assert_eq!(rows_of(b"\n\nh\na\n"), vec![(4, cells(&["a"]))]);
        assert_eq!(
            rows_of(b"h,i\n\"x\ny\",\"\n\"\nb,c"),
            vec![(2, cells(&["x\ny", "\n"])), (3, cells(&["b", "c"]))]
        );
    }

    #[test]
    fn cr_lf_and_crlf_mixed_in_one_file_each_end_a_row() {
        // Outside quotes each of CR, LF and CRLF ends a row; inside quotes they are data.
        assert_eq!(
            rows_of(b"h,i\na,1\rb,2\r\nc,\"x\ry\"\r\"d\r\n\",4\n\re,5"),
            vec![
                (2, cells(&["a", "1"])),
                (3, cells(&["b", "2"])),
                (4, cells(&["c", "x\ry"])),
                (5, cells(&["d\r\n", "4"])),
                (7, cells(&["e", "5"])),
            ]
        );
        // A CRLF split across two reads of the input is still one row end.
        let long = format!("h\n{}\r\nb\r", "a".repeat(64 * 1024 - 3));
        let rows = rows_of(long.as_bytes());
        assert_eq!(
            rows.len(),
            2,
            "{:?}",
            rows.iter().map(|r| r.0).collect::<Vec<_>>()
        );
        assert_eq!(rows[1], (3, cells(&["b"])));
    }

    #[test]
    fn cr_only_line_ends() {
        assert_eq!(
            rows_of(b"h;i\ra;1\r\rb;2\r"),
            vec![(2, cells(&["a", "1"])), (4, cells(&["b", "2"]))]
        );
    }

    #[test]
    fn quoted_delimiters_quotes_and_crlf_in_last_cell() {
        assert_eq!(
            rows_of(b"a,b\r\n\"x, \"\"y\"\"\",\"z\"\r\n"),
            vec![(2, cells(&["x, \"y\"", "z"]))]
        );
    }

    #[test]
    fn ragged_rows_are_padded_or_truncated_with_a_defect() {
        let mut source = open_bytes(b"a,b,c\n1,2\n1,2,3,4\n1\n1,2,3\n").unwrap();
        let rows = all_rows(&mut source);
        let got: Vec<_> = rows
            .iter()
            .map(|r| (r.row_number, r.cells.clone(), r.defect.clone()))
            .collect();
        assert_eq!(
            got,
            vec![
                (
                    2,
                    cells(&["1", "2", ""]),
                    Some("row has 2 cells, the header has 3".into())
                ),
                (
                    3,
                    cells(&["1", "2", "3"]),
                    Some("row has 4 cells, the header has 3".into())
                ),
                (
                    4,
                    cells(&["1", "", ""]),
                    Some("row has 1 cell, the header has 3".into())
                ),
                (5, cells(&["1", "2", "3"]), None),
            ]
        );
    }

    #[test]
    fn count_rest_matches_chunks() {
        let data = b"a,b\n1,2\n\n3\n\"4\n\",5\n6,7,8\n";
        let mut source = open_bytes(data).unwrap();
        let mut defects = Vec::new();
        let count = source
            .count_rest(&mut |row, message| defects.push((row, message.to_string())))
            .unwrap();
        assert_eq!(count, 4);
        assert_eq!(
            defects,
            vec![
                (4, "row has 1 cell, the header has 2".to_string()),
                (6, "row has 3 cells, the header has 2".to_string())
            ]
        );
    }

    #[test]
    fn decodes_utf16_and_windows_1252() {
        let text = "Name\tCity\nJosé\tKöln\nFrançoise\tOrléans\n";
        let mut source = open_bytes(&utf16le(text, true)).unwrap();
        assert_eq!(source.info.encoding.as_deref(), Some("utf-16le"));
        assert_eq!(source.info.delimiter, Some('\t'));
        let rows = all_rows(&mut source);
        assert_eq!(rows[1].cells, cells(&["Françoise", "Orléans"]));

        let mut source = open_bytes(b"Name;City\nJos\xe9;K\xf6ln\n").unwrap();
        assert_eq!(source.info.encoding.as_deref(), Some("windows-1252"));
        assert_eq!(all_rows(&mut source)[0].cells, cells(&["José", "Köln"]));
    }

    #[test]
    fn forced_encoding_and_delimiter() {
        let options = SourceOptions {
            encoding: Some("latin1".into()),
            delimiter: Some('|'),
            ..SourceOptions::default()
        };
        // Valid UTF-8 too ("Ã©"), but the caller knows better.
        let mut source = open_with("a|b\nJosÃ©|1\n".as_bytes(), &options).unwrap();
        assert_eq!(source.info.encoding.as_deref(), Some("windows-1252"));
        assert_eq!(all_rows(&mut source)[0].cells, cells(&["JosÃƒÂ©", "1"]));

        let bad = SourceOptions {
            encoding: Some("klingon".into()),
            ..SourceOptions::default()
        };
        assert!(matches!(
            open_with(b"a\n", &bad),
            Err(Error::Validation { .. })
        ));
        let bad = SourceOptions {
            delimiter: Some('§'),
            ..SourceOptions::default()
        };
        assert!(matches!(
            open_with(b"a\n", &bad),
            Err(Error::Validation { .. })
        ));
    }

    #[test]
    fn invalid_utf8_after_the_prefix_names_row_and_column() {
        let mut data = b"name,city\n".to_vec();
        // Enough rows to push the bad byte past the 64 KiB that detection looks at.
        let good_rows = PREFIX_BYTES / 5;
        for i in 0..good_rows {
            data.extend_from_slice(format!("n{i},c\n").as_bytes());
        }
        let bad_row = 2 + good_rows as u64;
        data.extend_from_slice(b"Jos\xe9,x\n");
        let mut source = open_bytes(&data).unwrap();
        assert_eq!(source.info.encoding.as_deref(), Some("utf-8"));
        let err = source.count_rest(&mut |_, _| {}).unwrap_err();
        match err {
            Error::Source {
                row, column, file, ..
            } => {
                assert_eq!(file, "t.csv");
                assert_eq!(row, Some(bad_row));
                assert_eq!(column.as_deref(), Some("name"));
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn malformed_utf16_is_an_error_with_the_offset() {
        let mut data = utf16le("a,b\n1,2\n", true);
        data.extend_from_slice(&[0x00, 0xD8, b'x', 0]); // a lone high surrogate
        let mut source = open_bytes(&data).unwrap();
        let err = source.count_rest(&mut |_, _| {}).unwrap_err();
        let message = err.to_string();
        assert!(
            message.contains("offset 18") && message.contains("UTF-16LE"),
            "{message}"
        );
        assert!(matches!(err, Error::Source { .. }));
    }

    #[test]
    fn limits() {
        let limits = SourceLimits {
            max_columns: 3,
            max_cell_bytes: 5,
            ..SourceLimits::default()
        };
        let options = SourceOptions {
            limits,
            ..SourceOptions::default()
        };
        let err = open_with(b"a,b,c\n1,123456,3\n", &options)
            .unwrap()
            .count_rest(&mut |_, _| {})
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "t.csv: row 2, column 'b': the cell is 6 B, over the limit of 5 B"
        );
        // The CR of a CRLF line end is not part of the cell.
        assert!(
            open_with(b"a,b,c\r\n1,2,12345\r\n", &options)
                .unwrap()
                .count_rest(&mut |_, _| {})
                .is_ok()
        );
        let err = open_with(b"a,b,c,d\n", &options).err().unwrap();
        assert!(matches!(err, Error::TooLarge { .. }));
        assert_eq!(
            err.to_string(),
            "t.csv: row 1 has 4 columns, over the limit of 3"
        );
    }

    #[test]
    fn a_quote_left_open_stops_at_the_record_budget() {
        let options = SourceOptions {
            limits: SourceLimits {
                max_cell_bytes: 10,
                ..SourceLimits::default()
            },
            ..SourceOptions::default()
        };
        let mut data = b"a,b\n1,2\n3,\"oops\n".to_vec();
        data.extend("x,y\n".repeat(100_000).as_bytes());
        let mut source = open_with(&data, &options).unwrap();
        let err = source.count_rest(&mut |_, _| {}).unwrap_err();
        assert_eq!(
            err.to_string(),
            "t.csv: the row after row 2 is over 64 KiB, more than 2 cells of at most 10 B can \
             take; a quote may be left open"
        );
        // The same open quote at the end of a short file is just a cell with line breaks.
        let rows = rows_of(b"a,b\n1,\"x\ny\n");
        assert_eq!(rows, vec![(2, cells(&["1", "x\ny\n"]))]);
    }

    #[test]
    fn empty_files() {
        for data in [&b""[..], b"\xEF\xBB\xBF", b"\n\n", b",,\n"] {
            let err = open_bytes(data).err().unwrap();
            assert_eq!(err.to_string(), "t.csv: the file is empty (no header row)");
        }
        let mut source = open_bytes(b"a,b\n").unwrap();
        assert!(source.next_chunk(10).unwrap().is_empty());
    }
}
