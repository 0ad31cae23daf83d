//! Sources: a file in, chunks of string rows out.
//!
//! Every format implements [`Source`]: the column names come from the header row, then
//! [`Source::next_chunk`] hands out at most `max_rows` rows at a time, each with the row number a
//! spreadsheet would show (or, for rows given inline, its place among the data rows:
//! [`RowNumbers`]), so a source holds one chunk in memory, never the whole file. A row
//! whose shape is wrong (too few or too many cells) still comes through, padded or truncated to
//! the header width and marked with a `defect`, so later stages report it as a row error instead
//! of the whole file failing. Only problems that make the rest of the file unreadable are errors.
//!
//! Formats: CSV and other delimited text (`csv`, streamed); XLSX/XLSM, XLS and ODS workbooks
//! (`excel`, one sheet, held in memory as calamine reads it); Parquet (`parquet`, streamed one
//! record batch at a time). Typed cells (numbers, dates, booleans) become the text a person would
//! type for them, so every format feeds the same value parsing.

mod csv;
mod excel;
mod kind;
mod ods_guard;
mod parquet;
mod parquet_guard;
mod text;
mod xls_guard;
mod zip_guard;

use std::collections::HashSet;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::{Error, Result};

use self::csv::CsvSource;
use self::excel::ExcelSource;
use self::parquet::ParquetSource;

/// One row of a file, as strings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceRow {
    /// The file's row number: the header is row 1, the first data row is row 2. Blank rows are
    /// skipped but still counted, and a CSV record spanning several lines (a quoted cell with a
    /// line break) is one row, so the number matches what a spreadsheet shows. With
    /// [`RowNumbers::DataRows`] the first data row is row 1.
    pub row_number: u64,
    /// Exactly one cell per column of [`Source::columns`].
    pub cells: Vec<String>,
    /// Why the row does not fit the header, e.g. "row has 5 cells, the header has 4".
    pub defect: Option<String>,
}

/// Limits that protect a process from a hostile or broken file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SourceLimits {
    /// Checked from the file's metadata before anything is read.
    pub max_file_bytes: u64,
    pub max_columns: usize,
    /// Bytes of one cell after decoding to UTF-8.
    pub max_cell_bytes: usize,
    /// Zipped workbooks (XLSX, ODS): bytes all parts may expand to, counted while they are
    /// decompressed (a zip bomb is stopped here, whatever sizes the zip declares).
    pub max_uncompressed_bytes: u64,
    /// XLSX: shared strings (calamine holds them all from the start).
    pub max_shared_strings: u64,
    /// XLSX: bytes of the shared-strings part.
    pub max_shared_strings_bytes: u64,
    /// Workbooks: cells in all sheets. XLS and ODS are read as dense grids (the rectangle a
    /// sheet's cells span, repeated rows and columns laid out), so there it is the grids' size.
    /// A workbook's sheet is held whole while it is read (see `excel.rs`), so this bounds the
    /// memory of a workbook import.
    pub max_cells: u64,
    /// Workbooks read whole (XLS, ODS): bytes of cell text held at once, a shared string
    /// counted in every cell that uses it and a repeated cell in every repeat.
    pub max_text_bytes: u64,
    /// Parquet: the decompressed size a page header declares (a page is decompressed whole,
    /// into room made for that size first).
    pub max_page_bytes: u64,
}

impl SourceLimits {
    /// A `max_file_bytes` that no file reaches: the file is the caller's own (a local import),
    /// so only the per-row and per-cell limits guard memory.
    pub const NO_FILE_CAP: u64 = u64::MAX;
}

impl Default for SourceLimits {
    fn default() -> Self {
        SourceLimits {
            // Spec 002: "Maximum file size: 100 MB".
            max_file_bytes: 100 * 1024 * 1024,
            max_columns: 1_000,
            max_cell_bytes: 1024 * 1024,
            // A 100 MB workbook of text rarely expands past 1 GiB; decompressing that much
            // takes a few seconds at most and no memory beyond a buffer.
            max_uncompressed_bytes: 1024 * 1024 * 1024,
            // calamine keeps each shared string as its own `String`: a million of them, and
            // 64 MiB of their XML, stay within a couple of hundred MiB.
            max_shared_strings: 1_000_000,
            max_shared_strings_bytes: 64 * 1024 * 1024,
            // Measured with the release binary: a sheet costs about 64 bytes a cell at its peak
            // (calamine's grid, and the copy of it `worksheet_range` hands out), 174 MiB for a
            // 5 KiB .xls whose two cells span 2.5 M, 642 MiB for 10 M. Two million cells (an
            // .xls sheet of 65,536 rows by 30 columns) with the text below stays under 256 MiB;
            // larger sheets are refused naming this limit (`--max-cells` raises it), and CSV
            // and Parquet, which stream, have no such limit.
            max_cells: 2_000_000,
            // Held twice at the peak, as the cells are: 96 MiB.
            max_text_bytes: 48 * 1024 * 1024,
            // Writers aim at pages of about 1 MiB (Arrow, Spark, DuckDB); 64 MiB leaves room for
            // large dictionary pages and wide values.
            max_page_bytes: 64 * 1024 * 1024,
        }
    }
}

/// How to open a file. The defaults detect everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SourceOptions {
    pub limits: SourceLimits,
    /// The sheet of a workbook to read (default: the first). Ignored by formats with one table.
    pub sheet: Option<String>,
    /// A WHATWG encoding label ("utf-8", "windows-1252", "latin1", "utf-16le", …) that overrides
    /// detection, for text formats.
    pub encoding: Option<String>,
    /// A delimiter that overrides detection, for CSV. Must be one ASCII character.
    pub delimiter: Option<char>,
    /// How the CSV source numbers rows (other formats always number them as the file does).
    pub row_numbers: RowNumbers,
}

/// What the row numbers of rows and their errors count.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum RowNumbers {
    /// The file's own rows, as a spreadsheet shows them: the header is row 1.
    #[default]
    FileRows,
    /// Data rows only: the first row after the header is row 1. Rows given inline (spec 002's
    /// `rows`, written to a CSV file) are numbered so: the n-th element of `rows` is row n.
    DataRows,
}

/// The kinds of file the import reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FileType {
    Csv,
    Xlsx,
    Xls,
    Ods,
    Parquet,
}

impl FileType {
    /// The extensions recognised for each type, lower case, in the order error messages list them.
    const EXTENSIONS: &[(&str, FileType)] = &[
        ("csv", FileType::Csv),
        // Tab-separated and "Unicode text" exports are CSV with another delimiter, which the CSV
        // source detects; spec 002 accepts text/plain for CSV.
        ("tsv", FileType::Csv),
        ("txt", FileType::Csv),
        ("xlsx", FileType::Xlsx),
        ("xlsm", FileType::Xlsx),
        ("xls", FileType::Xls),
        ("ods", FileType::Ods),
        ("parquet", FileType::Parquet),
    ];

    /// The file type from the path's extension (case-insensitive).
    pub fn from_path(path: &Path) -> Result<FileType> {
        let extension = path
            .extension()
            .map(|e| e.to_string_lossy().to_ascii_lowercase());
        if let Some(found) = extension.as_deref().and_then(|ext| {
            Self::EXTENSIONS
                .iter()
                .find(|(known, _)| *known == ext)
                .map(|(_, file_type)| *file_type)
        }) {
            return Ok(found);
        }
        let known = Self::EXTENSIONS
            .iter()
            .map(|(ext, _)| format!(".{ext}"))
            .collect::<Vec<_>>()
            .join(", ");
        let got = match extension {
            Some(ext) => format!("'.{ext}' files are not supported"),
            None => "the file name has no extension".to_string(),
        };
        Err(source_error(
            path,
            format!("unsupported file type: {got}; use one of {known}"),
        ))
    }

    pub fn as_str(self) -> &'static str {
        match self {
            FileType::Csv => "csv",
            FileType::Xlsx => "xlsx",
            FileType::Xls => "xls",
            FileType::Ods => "ods",
            FileType::Parquet => "parquet",
        }
    }
}

impl std::fmt::Display for FileType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a source found out about its file (detected or forced settings), for the parse response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SourceInfo {
    pub file_type: FileType,
    pub file_name: String,
    /// Lower-case WHATWG name, e.g. "utf-8", "windows-1252", "utf-16le"; `None` for binary formats.
    pub encoding: Option<String>,
    pub delimiter: Option<char>,
    /// All sheets of a workbook, in file order; empty for formats with one table.
    pub sheet_names: Vec<String>,
    /// The sheet being read.
    pub sheet: Option<String>,
}

/// A table read from a file, chunk by chunk.
pub trait Source: Send {
    /// The column names from the header row: trimmed, never empty, all distinct.
    fn columns(&self) -> &[String];

    /// The next rows (at most `max_rows`, at least one unless the file is done); an empty vector
    /// means the end. After an error the source is unusable.
    fn next_chunk(&mut self, max_rows: usize) -> Result<Vec<SourceRow>>;

    fn describe(&self) -> SourceInfo;

    /// Reads the rest of the file without handing out rows, calling `on_defect(row, message)` for
    /// each defective row, and returns how many data rows there were. The same checks and errors
    /// as [`Source::next_chunk`]. Formats that can count without building rows override this;
    /// the default drains chunks.
    fn count_rest(&mut self, on_defect: &mut dyn FnMut(u64, &str)) -> Result<u64> {
        let mut count = 0;
        loop {
            let chunk = self.next_chunk(COUNT_CHUNK_ROWS)?;
            if chunk.is_empty() {
                return Ok(count);
            }
            for row in &chunk {
                if let Some(defect) = &row.defect {
                    on_defect(row.row_number, defect);
                }
            }
            count += chunk.len() as u64;
        }
    }
}

const COUNT_CHUNK_ROWS: usize = 10_000;

/// Opens a file as a [`Source`], choosing the format from the extension. The file-size limit is
/// checked here, from metadata, before any byte is read.
pub fn open(path: &Path, options: &SourceOptions) -> Result<Box<dyn Source>> {
    let file_type = FileType::from_path(path)?;
    check_file_size(path, file_type, &options.limits)?;
    match file_type {
        FileType::Csv => Ok(Box::new(CsvSource::open(path, options)?)),
        FileType::Xlsx | FileType::Xls | FileType::Ods => {
            Ok(Box::new(ExcelSource::open(path, file_type, options)?))
        }
        FileType::Parquet => Ok(Box::new(ParquetSource::open(path, options)?)),
    }
}

/// [`open`] on the blocking thread pool, for async callers: opening a workbook reads its whole
/// sheet (seconds of CPU for a large one), which must not hold an async worker thread, such as
/// one of a server's request threads.
pub async fn open_blocking(path: &Path, options: &SourceOptions) -> Result<Box<dyn Source>> {
    let (owned, options) = (path.to_path_buf(), options.clone());
    tokio::task::spawn_blocking(move || open(&owned, &options))
        .await
        .map_err(|e| Error::internal(format!("the task opening {}: {e}", path.display())))?
}

fn check_file_size(path: &Path, file_type: FileType, limits: &SourceLimits) -> Result<()> {
    // The file is the user's input: a missing or unreadable one, a directory or a FIFO, is their
    // error to fix (exit 2, HTTP 400), not the server's.
    let size = kind::check(path, file_type)?;
    if size > limits.max_file_bytes {
        return Err(Error::TooLarge {
            file: file_name(path),
            message: format!(
                "the file is {}, over the limit of {}",
                human_bytes(size),
                human_bytes(limits.max_file_bytes)
            ),
        });
    }
    Ok(())
}

/// The name errors and responses use for a file: the name the user gave it, without the
/// directories (which, for uploads, are a server's temporary folder).
pub(crate) fn file_name(path: &Path) -> String {
    path.file_name()
        .unwrap_or(path.as_os_str())
        .to_string_lossy()
        .into_owned()
}

pub(crate) fn source_error(path: &Path, message: impl Into<String>) -> Error {
    Error::Source {
        file: file_name(path),
        row: None,
        column: None,
        message: message.into(),
    }
}

pub(crate) fn io_error(path: &Path, source: std::io::Error) -> Error {
    Error::Io {
        path: path.display().to_string(),
        source,
    }
}

/// A header cell as a column name: trimmed (a BOM too), and "Column N" (1-based) when empty.
pub(crate) fn header_name(raw: &str, index: usize) -> String {
    let name = raw.trim_matches(|c: char| c.is_whitespace() || c == '\u{feff}');
    if name.is_empty() {
        format!("Column {}", index + 1)
    } else {
        name.to_string()
    }
}

/// The longest column name accepted. Names feed the mapping suggestions, whose similarity
/// measures take time in the product of two names' lengths: a cap keeps that time per column
/// bounded, whatever a header holds.
pub const MAX_COLUMN_NAME_BYTES: usize = 1024;

/// Refuses a column name over [`MAX_COLUMN_NAME_BYTES`], naming the column by its position and
/// the start of its name.
pub fn check_column_names(file: &str, names: &[String]) -> Result<()> {
    match names
        .iter()
        .enumerate()
        .find(|(_, name)| name.len() > MAX_COLUMN_NAME_BYTES)
    {
        None => Ok(()),
        Some((index, name)) => Err(Error::Source {
            file: file.to_string(),
            row: None,
            column: Some(format!("Column {}", index + 1)),
            message: format!(
                "the name of column {} ('{}') is {}, over the limit of {} for a column name",
                index + 1,
                crate::error::excerpt(name),
                human_bytes(name.len() as u64),
                human_bytes(MAX_COLUMN_NAME_BYTES as u64)
            ),
        }),
    }
}

/// Column names checked ([`check_column_names`]) and made distinct: the second "Email" becomes
/// "Email (2)", skipping any name that the header already has, so every column keeps a key of
/// its own in sample rows and mappings.
pub(crate) fn distinct_names(file: &str, names: Vec<String>) -> Result<Vec<String>> {
    check_column_names(file, &names)?;
    let mut taken: HashSet<String> = names.iter().cloned().collect();
    let mut seen = HashSet::new();
    Ok(names
        .into_iter()
        .map(|name| {
            if seen.insert(name.clone()) {
                return name;
            }
            (2..)
                .map(|n| format!("{name} ({n})"))
                .find(|candidate| taken.insert(candidate.clone()))
                .expect("an unbounded range always yields a free name")
        })
        .collect())
}

/// The defect of a row wider or narrower than the header, worded the same for every format.
pub(crate) fn width_defect(width: usize, expected: usize) -> String {
    let cells = if width == 1 { "cell" } else { "cells" };
    format!("row has {width} {cells}, the header has {expected}")
}

/// A row with more columns than [`SourceLimits::max_columns`].
pub(crate) fn too_many_columns(file: &str, row: u64, width: usize, limit: usize) -> Error {
    Error::TooLarge {
        file: file.to_string(),
        message: format!("row {row} has {width} columns, over the limit of {limit}"),
    }
}

/// A cell longer than [`SourceLimits::max_cell_bytes`].
pub(crate) fn cell_too_large(
    file: &str,
    row: u64,
    column: &str,
    len: usize,
    limit: usize,
) -> Error {
    Error::TooLarge {
        file: file.to_string(),
        message: format!(
            "row {row}, column '{column}': the cell is {}, over the limit of {}",
            human_bytes(len as u64),
            human_bytes(limit as u64)
        ),
    }
}

/// A byte count for people: "512 B", "1.5 KiB", "100 MiB".
pub(crate) fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["KiB", "MiB", "GiB", "TiB", "PiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if value.fract() == 0.0 {
        format!("{value:.0} {}", UNITS[unit])
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_type_from_extension() {
        assert_eq!(
            FileType::from_path(Path::new("a/b/Contacts.CSV")).unwrap(),
            FileType::Csv
        );
        assert_eq!(
            FileType::from_path(Path::new("x.tsv")).unwrap(),
            FileType::Csv
        );
        assert_eq!(
            FileType::from_path(Path::new("x.xlsx")).unwrap(),
            FileType::Xlsx
        );
        assert_eq!(
            FileType::from_path(Path::new("x.xls")).unwrap(),
            FileType::Xls
        );
        assert_eq!(
            FileType::from_path(Path::new("x.ods")).unwrap(),
            FileType::Ods
        );
        assert_eq!(
            FileType::from_path(Path::new("x.parquet")).unwrap(),
            FileType::Parquet
        );
    }

    #[test]
    fn unknown_extension_names_the_file() {
        let err = FileType::from_path(Path::new("/tmp/up/report.docx")).unwrap_err();
        match &err {
            Error::Source { file, message, .. } => {
                assert_eq!(file, "report.docx");
                assert!(message.contains("'.docx'"), "{message}");
                assert!(message.contains(".csv"), "{message}");
            }
            other => panic!("unexpected {other:?}"),
        }
        let err = FileType::from_path(Path::new("README")).unwrap_err();
        assert!(err.to_string().contains("no extension"), "{err}");
    }

    #[test]
    fn file_type_serialises_lower_case() {
        assert_eq!(
            serde_json::to_string(&FileType::Parquet).unwrap(),
            "\"parquet\""
        );
    }

    #[test]
    fn human_units() {
        assert_eq!(human_bytes(0), "0 B");
        assert_eq!(human_bytes(1023), "1023 B");
        assert_eq!(human_bytes(1536), "1.5 KiB");
        assert_eq!(human_bytes(100 * 1024 * 1024), "100 MiB");
        assert_eq!(human_bytes(150 * 1024 * 1024 + 1), "150.0 MiB");
    }
}
