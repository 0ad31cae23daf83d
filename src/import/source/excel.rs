//! The workbook source: one sheet of an XLSX/XLSM, XLS or ODS file in, rows of strings out.
//!
//! Memory: calamine has no row-by-row reader for XLS and ODS (it parses a whole sheet into a
//! dense range), so this source holds the chosen sheet's cells in memory for as long as it is
//! open: bounded by `SourceLimits::max_cells` (about 64 bytes a cell at the peak, since
//! calamine hands out a copy of the grid it keeps), not by the chunk size as the CSV and
//! Parquet sources are. XLSX is read cell by cell into a list of its non-empty cells rather
//! than calamine's dense range, because a range spans the bounding box of the used cells and
//! one stray cell at XFD1048576 would ask for 17 billion of them. Either way the cells stay typed until their row
//! is handed out by [`Source::next_chunk`]; only then do they become strings.
//!
//! Hostile files: calamine lays out XLS and ODS sheets as dense grids and holds the shared
//! strings of XLSX whole, so each workbook is scanned before calamine opens it: a zipped one
//! (XLSX, ODS) by `zip_guard`, within budgets of uncompressed bytes, shared strings, cells (with
//! ODS's repeated rows and columns laid out), cell size and text; an .xls by `xls_guard`,
//! which walks its compound file and BIFF records as calamine will and refuses loops, grids and
//! text over the limits before calamine allocates them. Panics inside calamine on malformed
//! files are caught and reported as file errors.
//!
//! Rows: the header is the first row with a non-empty cell; the table starts at the leftmost
//! used column of the sheet and is as wide as the header's last non-empty cell. Row numbers are
//! the sheet's own, so blank rows are skipped but counted. A spreadsheet cannot tell a short row
//! from one with empty cells at its end, so only rows wider than the header are defects, as are
//! cells holding an error such as `#N/A` (handed out as empty).
//!
//! Cells as text: integer-valued numbers without ".0", other numbers in the shortest form that
//! reads back as the same number, booleans as `true`/`false`, dates as `2024-01-15`, date-times
//! as `2024-01-15T10:30:00`, times of day and durations as `10:30:00` (hours past 24 for long
//! durations). That is what the value parsing of the import reads, the same as typed text.

use std::borrow::Cow;
use std::fs::File;
use std::io::BufReader;
use std::panic::{self, AssertUnwindSafe};
use std::path::Path;

use calamine::{
    CellErrorType, Data, DataRef, ExcelDateTime, Ods, OdsError, Range, Reader, SheetType, Xls,
    XlsError, Xlsx, XlsxError, open_workbook,
};

use super::{
    FileType, Source, SourceInfo, SourceLimits, SourceOptions, SourceRow, cell_too_large,
    distinct_names, file_name, header_name, io_error, source_error, too_many_columns, width_defect,
};
use crate::{Error, Result};

const MS_PER_DAY: f64 = 86_400_000.0;
/// Integer-valued floats below this print as integers; from here on `{:?}` switches to an
/// exponent, which keeps 1e300 from printing as 301 digits.
const PLAIN_INTEGER_LIMIT: f64 = 1e16;

pub(crate) struct ExcelSource {
    grid: Grid,
    table: Table,
    info: SourceInfo,
}

/// What turns a sheet row into a [`SourceRow`]; apart from [`Grid`] so a row's cells can be
/// borrowed from the grid while the table reads them.
struct Table {
    file: String,
    columns: Vec<String>,
    /// The sheet column (0-based) of the table's first column.
    first_col: u32,
    limits: SourceLimits,
}

/// The non-empty cells of the sheet, in row order, and how far they have been handed out.
enum Grid {
    /// XLS and ODS: calamine's dense range, `next` being the next row relative to its start.
    Dense { range: Range<Data>, next: usize },
    /// XLSX: only the non-empty cells, sorted by (row, column).
    Sparse { cells: Vec<SheetCell>, next: usize },
}

struct SheetCell {
    row: u32,
    col: u32,
    value: Data,
}

/// Where one row's cells are in a [`Grid`].
#[derive(Clone, Copy)]
enum RowSpan {
    /// Relative row of the dense range.
    Dense(usize),
    /// `cells[start..end]` of the sparse list.
    Sparse(usize, usize),
}

impl Grid {
    fn sparse(mut cells: Vec<SheetCell>) -> Grid {
        cells.retain(|c| !is_blank(&c.value));
        // Writers emit rows in order, so this is one linear pass; it only matters for odd files.
        cells.sort_by_key(|c| (c.row, c.col));
        Grid::Sparse { cells, next: 0 }
    }

    /// The next row with a non-empty cell: its 0-based sheet row and where its cells are.
    fn next_row(&mut self) -> Option<(u32, RowSpan)> {
        match self {
            Grid::Dense { range, next } => {
                let (top, _) = range.start()?;
                while *next < range.height() {
                    let rel = *next;
                    *next += 1;
                    let blank =
                        (0..range.width()).all(|c| range.get((rel, c)).is_none_or(is_blank));
                    if !blank {
                        return Some((top + rel as u32, RowSpan::Dense(rel)));
                    }
                }
                None
            }
            Grid::Sparse { cells, next } => {
                let start = *next;
                let row = cells.get(start)?.row;
                let len = cells[start..].iter().take_while(|c| c.row == row).count();
                *next = start + len;
                Some((row, RowSpan::Sparse(start, start + len)))
            }
        }
    }

    /// The non-empty cells of a row as (0-based sheet column, value), left to right.
    fn cells(&self, span: RowSpan) -> Box<dyn Iterator<Item = (u32, &Data)> + '_> {
        match (self, span) {
            (Grid::Dense { range, .. }, RowSpan::Dense(rel)) => {
                let left = range.start().map_or(0, |(_, left)| left);
                Box::new((0..range.width()).filter_map(move |c| {
                    let value = range.get((rel, c))?;
                    (!is_blank(value)).then_some((left + c as u32, value))
                }))
            }
            (Grid::Sparse { cells, .. }, RowSpan::Sparse(start, end)) => {
                Box::new(cells[start..end].iter().map(|c| (c.col, &c.value)))
            }
            // A span always comes from the same grid's `next_row`.
            _ => Box::new(std::iter::empty()),
        }
    }

    /// The leftmost column holding a non-empty cell, if any.
    fn first_col(&self) -> Option<u32> {
        match self {
            Grid::Dense { range, .. } => {
                let (_, left) = range.start()?;
                (0..range.width())
                    .find(|&c| {
                        (0..range.height()).any(|r| range.get((r, c)).is_some_and(|v| !is_blank(v)))
                    })
                    .map(|c| left + c as u32)
            }
            Grid::Sparse { cells, .. } => cells.iter().map(|c| c.col).min(),
        }
    }
}

/// Empty cells, and cells holding an empty string, which some writers leave behind.
fn is_blank(value: &Data) -> bool {
    match value {
        Data::Empty => true,
        Data::String(s) => s.is_empty(),
        _ => false,
    }
}

impl ExcelSource {
    /// Opens the workbook, reads the chosen sheet and its header row. The caller
    /// ([`super::open`]) has checked the file size.
    pub(crate) fn open(
        path: &Path,
        file_type: FileType,
        options: &SourceOptions,
    ) -> Result<ExcelSource> {
        // calamine reads the shared strings whole on opening and a cell's text whole when it
        // reads it: a zipped workbook is scanned with budgets first (see `zip_guard`).
        match file_type {
            FileType::Xlsx | FileType::Ods => {
                super::zip_guard::check(path, &file_name(path), &options.limits)?
            }
            FileType::Xls => super::xls_guard::check(path, &file_name(path), &options.limits)?,
            _ => {}
        }
        // calamine panics on some malformed files (fuzzing found an XLS record read past its
        // end); the workbook is dropped on any error anyway, so a panic becomes a file error
        // instead of taking the worker or server down with it.
        let read = panic::catch_unwind(AssertUnwindSafe(|| {
            read_sheet(path, file_type, options.sheet.as_deref())
        }));
        let (sheet_names, sheet, grid) = match read {
            Ok(read) => read?,
            Err(payload) => {
                let detail = payload
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| payload.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "the reader failed".to_string());
                return Err(unreadable(path, file_type, &detail));
            }
        };
        ExcelSource::from_grid(path, file_type, sheet_names, sheet, grid, options.limits)
    }

    /// Reads the header row of a sheet's grid.
    fn from_grid(
        path: &Path,
        file_type: FileType,
        sheet_names: Vec<String>,
        sheet: String,
        mut grid: Grid,
        limits: SourceLimits,
    ) -> Result<ExcelSource> {
        let mut table = Table {
            file: file_name(path),
            columns: Vec::new(),
            first_col: grid.first_col().unwrap_or(0),
            limits,
        };
        let Some((row, span)) = grid.next_row() else {
            return Err(source_error(
                path,
                format!("the sheet '{sheet}' is empty (no header row)"),
            ));
        };
        table.columns = table.header(u64::from(row) + 1, grid.cells(span))?;
        Ok(ExcelSource {
            grid,
            table,
            info: SourceInfo {
                file_type,
                file_name: file_name(path),
                encoding: None,
                delimiter: None,
                sheet_names,
                sheet: Some(sheet),
            },
        })
    }
}

impl Table {
    /// The column names from the header row's cells.
    fn header<'a>(
        &self,
        row: u64,
        cells: impl Iterator<Item = (u32, &'a Data)>,
    ) -> Result<Vec<String>> {
        let mut names = Vec::new();
        let mut width = 0;
        for (index, text) in self.cells_within_limit(cells, &mut width) {
            let text = match text {
                CellText::Text(text) => text,
                // An error where a name should be: the column is unnamed.
                CellText::Error(_) => Cow::Borrowed(""),
            };
            self.check_len(row, &format!("Column {}", index + 1), &text)?;
            names.resize(index + 1, String::new());
            names[index] = text.into_owned();
        }
        self.check_width(row, width)?;
        distinct_names(
            &self.file,
            names
                .iter()
                .enumerate()
                .map(|(i, name)| header_name(name, i))
                .collect(),
        )
    }

    /// A row's cells up to the column limit, as (table column, text), left to right; `width`
    /// ends as the row's width, counting the cells past the limit too (cells come left to right:
    /// once past the limit, only the row's width is of use).
    fn cells_within_limit<'c>(
        &self,
        cells: impl Iterator<Item = (u32, &'c Data)>,
        width: &mut usize,
    ) -> impl Iterator<Item = (usize, CellText<'c>)> {
        cells.filter_map(move |(col, value)| {
            let index = self.index(col);
            *width = index + 1;
            (*width <= self.limits.max_columns).then(|| (index, cell_text(value)))
        })
    }

    /// The table column of a sheet column.
    fn index(&self, col: u32) -> usize {
        col.saturating_sub(self.first_col) as usize
    }

    fn column_name(&self, index: usize) -> Cow<'_, str> {
        match self.columns.get(index) {
            Some(name) => Cow::Borrowed(name),
            None => Cow::Owned(format!("Column {}", index + 1)),
        }
    }

    fn check_width(&self, row: u64, width: usize) -> Result<()> {
        if width > self.limits.max_columns {
            return Err(too_many_columns(
                &self.file,
                row,
                width,
                self.limits.max_columns,
            ));
        }
        Ok(())
    }

    fn check_len(&self, row: u64, column: &str, text: &str) -> Result<()> {
        if text.len() > self.limits.max_cell_bytes {
            return Err(cell_too_large(
                &self.file,
                row,
                column,
                text.len(),
                self.limits.max_cell_bytes,
            ));
        }
        Ok(())
    }

    /// Checks a data row against the limits and returns its defect; with `out`, also its cells
    /// (which `out` must hold one empty string per column for).
    fn read_row<'a>(
        &self,
        row: u64,
        cells: impl Iterator<Item = (u32, &'a Data)>,
        mut out: Option<&mut [String]>,
    ) -> Result<Option<String>> {
        let mut width = 0;
        let mut errors = Vec::new();
        for (index, text) in self.cells_within_limit(cells, &mut width) {
            let text = match text {
                CellText::Text(text) => text,
                CellText::Error(error) => {
                    errors.push(format!(
                        "column '{}' holds the error {error}",
                        self.column_name(index)
                    ));
                    continue;
                }
            };
            self.check_len(row, &self.column_name(index), &text)?;
            if let Some(slot) = out.as_deref_mut().and_then(|cells| cells.get_mut(index)) {
                *slot = text.into_owned();
            }
        }
        self.check_width(row, width)?;
        let mut defects = Vec::new();
        if width > self.columns.len() {
            defects.push(width_defect(width, self.columns.len()));
        }
        defects.extend(errors);
        Ok((!defects.is_empty()).then(|| defects.join("; ")))
    }
}

impl Source for ExcelSource {
    fn columns(&self) -> &[String] {
        &self.table.columns
    }

    fn next_chunk(&mut self, max_rows: usize) -> Result<Vec<SourceRow>> {
        let max_rows = max_rows.max(1);
        let mut rows = Vec::with_capacity(max_rows.min(4096));
        while rows.len() < max_rows {
            let Some((row, span)) = self.grid.next_row() else {
                break;
            };
            let row_number = u64::from(row) + 1;
            let mut cells = vec![String::new(); self.table.columns.len()];
            let defect =
                self.table
                    .read_row(row_number, self.grid.cells(span), Some(&mut cells))?;
            rows.push(SourceRow {
                row_number,
                cells,
                defect,
            });
        }
        Ok(rows)
    }

    fn describe(&self) -> SourceInfo {
        self.info.clone()
    }

    fn count_rest(&mut self, on_defect: &mut dyn FnMut(u64, &str)) -> Result<u64> {
        let mut count = 0;
        while let Some((row, span)) = self.grid.next_row() {
            let row_number = u64::from(row) + 1;
            if let Some(defect) = self
                .table
                .read_row(row_number, self.grid.cells(span), None)?
            {
                on_defect(row_number, &defect);
            }
            count += 1;
        }
        Ok(count)
    }
}

/// The sheet named in the options, or the first worksheet (chart sheets hold no table).
fn choose_sheet<RS, R: Reader<RS>>(
    path: &Path,
    workbook: &R,
    wanted: Option<&str>,
) -> Result<String>
where
    RS: std::io::Read + std::io::Seek,
{
    let sheets = workbook.sheets_metadata();
    let Some(wanted) = wanted else {
        return sheets
            .iter()
            .find(|s| s.typ == SheetType::WorkSheet)
            .map(|s| s.name.clone())
            .ok_or_else(|| source_error(path, "the workbook has no worksheet"));
    };
    // Excel treats sheet names case-insensitively (it refuses "Data" beside "DATA"), so people
    // do not expect the case to matter; an exact match still wins for other writers.
    let found = sheets
        .iter()
        .find(|s| s.name == wanted)
        .or_else(|| {
            sheets
                .iter()
                .find(|s| s.name.to_lowercase() == wanted.trim().to_lowercase())
        })
        .map(|s| s.name.clone());
    found.ok_or_else(|| {
        let list = sheets
            .iter()
            .map(|s| format!("'{}'", s.name))
            .collect::<Vec<_>>()
            .join(", ");
        source_error(
            path,
            format!("there is no sheet '{wanted}'; the sheets are {list}"),
        )
    })
}

/// The workbook's sheet names, the chosen sheet and its cells.
fn read_sheet(
    path: &Path,
    file_type: FileType,
    wanted: Option<&str>,
) -> Result<(Vec<String>, String, Grid)> {
    match file_type {
        FileType::Xlsx => {
            let mut workbook: Xlsx<BufReader<File>> =
                open_workbook(path).map_err(|e| xlsx_error(path, e))?;
            let sheet = choose_sheet(path, &workbook, wanted)?;
            let grid = read_xlsx_sheet(&mut workbook, &sheet).map_err(|e| xlsx_error(path, e))?;
            Ok((workbook.sheet_names(), sheet, grid))
        }
        FileType::Xls => read_dense_sheet::<Xls<_>>(path, wanted, xls_error),
        FileType::Ods => read_dense_sheet::<Ods<_>>(path, wanted, ods_error),
        FileType::Csv | FileType::Parquet => {
            Err(source_error(path, format!("{file_type} is not a workbook")))
        }
    }
}

/// A workbook whose sheets calamine reads whole, into a dense range (XLS, ODS; see the module
/// note): the sheet names, the chosen sheet and its cells.
fn read_dense_sheet<W: Reader<BufReader<File>>>(
    path: &Path,
    wanted: Option<&str>,
    error: fn(&Path, W::Error) -> Error,
) -> Result<(Vec<String>, String, Grid)> {
    let mut workbook: W = open_workbook(path).map_err(|e| error(path, e))?;
    let sheet = choose_sheet(path, &workbook, wanted)?;
    let range = workbook
        .worksheet_range(&sheet)
        .map_err(|e| error(path, e))?;
    Ok((
        workbook.sheet_names(),
        sheet,
        Grid::Dense { range, next: 0 },
    ))
}

fn read_xlsx_sheet(
    workbook: &mut Xlsx<BufReader<File>>,
    sheet: &str,
) -> std::result::Result<Grid, XlsxError> {
    let mut reader = workbook.worksheet_cells_reader(sheet)?;
    let mut cells = Vec::new();
    while let Some(cell) = reader.next_cell()? {
        let (row, col) = cell.get_position();
        let value = match cell.get_value() {
            DataRef::Empty => continue,
            DataRef::SharedString("") => continue,
            DataRef::String(s) if s.is_empty() => continue,
            other => Data::from(other.clone()),
        };
        cells.push(SheetCell { row, col, value });
    }
    Ok(Grid::sparse(cells))
}

fn xlsx_error(path: &Path, error: XlsxError) -> Error {
    match error {
        XlsxError::Io(e) => workbook_io_error(path, FileType::Xlsx, e),
        other => unreadable(path, FileType::Xlsx, &other),
    }
}

fn xls_error(path: &Path, error: XlsError) -> Error {
    match error {
        XlsError::Io(e) => workbook_io_error(path, FileType::Xls, e),
        other => unreadable(path, FileType::Xls, &other),
    }
}

fn ods_error(path: &Path, error: OdsError) -> Error {
    match error {
        OdsError::Io(e) => workbook_io_error(path, FileType::Ods, e),
        other => unreadable(path, FileType::Ods, &other),
    }
}

/// An I/O error while calamine reads the workbook's parts: damaged contents (a part that does
/// not inflate, a compression method zip does not know, a file cut short) are the file's fault,
/// and only other errors (the disk's) the server's. Fuzzing found the first kind reported as
/// internal errors.
fn workbook_io_error(path: &Path, file_type: FileType, error: std::io::Error) -> Error {
    use std::io::ErrorKind::{InvalidData, InvalidInput, Other, UnexpectedEof, Unsupported};
    match error.kind() {
        InvalidData | InvalidInput | Unsupported | UnexpectedEof | Other => {
            unreadable(path, file_type, &error)
        }
        _ => io_error(path, error),
    }
}

fn unreadable(path: &Path, file_type: FileType, detail: &dyn std::fmt::Display) -> Error {
    let kind = file_type.as_str().to_ascii_uppercase();
    source_error(
        path,
        format!(
            "the file cannot be read as an {kind} workbook ({detail}); it may be damaged or of \
             another type"
        ),
    )
}

/// A cell as the import sees it.
enum CellText<'a> {
    Text(Cow<'a, str>),
    Error(&'a CellErrorType),
}

fn cell_text(value: &Data) -> CellText<'_> {
    let text = match value {
        Data::Empty => Cow::Borrowed(""),
        Data::String(s) => Cow::Borrowed(s.as_str()),
        Data::Int(i) => Cow::Owned(i.to_string()),
        Data::Float(f) => Cow::Owned(float_text(*f)),
        Data::Bool(b) => Cow::Borrowed(if *b { "true" } else { "false" }),
        Data::DateTime(dt) => Cow::Owned(excel_datetime_text(dt)),
        Data::DateTimeIso(s) => iso_datetime_text(s),
        Data::DurationIso(s) => match iso_duration_ms(s) {
            Some(ms) => Cow::Owned(duration_text(ms)),
            None => Cow::Borrowed(s.as_str()),
        },
        Data::Error(error) => return CellText::Error(error),
    };
    CellText::Text(text)
}

/// A float as people write it: `42` not `42.0`, otherwise the shortest text that reads back as
/// the same number (`0.1`, `1e-7`, `1e300`).
pub(super) fn float_text(value: f64) -> String {
    if value.fract() == 0.0 && value.abs() < PLAIN_INTEGER_LIMIT {
        // Exact: below the limit every integer-valued float fits an i64; also turns -0 into 0.
        return (value as i64).to_string();
    }
    format!("{value:?}")
}

/// [`float_text`] for `f32` values, printed with `f32` precision so 0.1f32 stays `0.1`.
pub(super) fn f32_text(value: f32) -> String {
    if value.fract() == 0.0 && f64::from(value).abs() < PLAIN_INTEGER_LIMIT {
        return (value as i64).to_string();
    }
    format!("{value:?}")
}

fn excel_datetime_text(value: &ExcelDateTime) -> String {
    let serial = value.as_f64();
    if value.is_duration() {
        return duration_text(round_ms(serial * MS_PER_DAY));
    }
    // Day 0 is no real date: a cell formatted as a time alone holds only the fraction of a day.
    if (0.0..1.0).contains(&serial) {
        // Shown like a duration since midnight, clamped so rounding cannot reach 24:00:00.
        return duration_text(round_ms(serial * MS_PER_DAY).min(86_399_999));
    }
    let (year, month, day, hour, minute, second, milli) = value.to_ymd_hms_milli();
    let date = format!("{year:04}-{month:02}-{day:02}");
    if (hour, minute, second, milli) == (0, 0, 0, 0) {
        return date;
    }
    let fraction = fraction_text(u32::from(milli) * 1_000_000);
    format!("{date}T{hour:02}:{minute:02}:{second:02}{fraction}")
}

fn round_ms(ms: f64) -> i64 {
    // `as` saturates, and NaN becomes 0: no panic on a hostile serial.
    ms.round() as i64
}

/// ODS date values are ISO 8601 already; a date-time at midnight is a date, as in Excel.
fn iso_datetime_text(text: &str) -> Cow<'_, str> {
    let Some((date, time)) = text.split_once('T') else {
        return Cow::Borrowed(text);
    };
    let (clock, fraction) = time.split_once('.').unwrap_or((time, ""));
    let zero_fraction = fraction.bytes().all(|b| b == b'0');
    if clock == "00:00:00" && zero_fraction {
        Cow::Borrowed(date)
    } else if !fraction.is_empty() && zero_fraction {
        Cow::Owned(format!("{date}T{clock}"))
    } else {
        Cow::Borrowed(text)
    }
}

/// Milliseconds of an ISO 8601 duration such as ODS writes for times and durations:
/// `PT10H30M00S`, `-PT1H`, `P1DT2H`, `PT0.5S`. `None` for forms with years or months, whose
/// length in days is not fixed.
fn iso_duration_ms(text: &str) -> Option<i64> {
    let (negative, rest) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let rest = rest.strip_prefix('P')?;
    let (days, time) = match rest.split_once('T') {
        Some((days, time)) => (days, time),
        None => (rest, ""),
    };
    let mut ms = 0f64;
    if !days.is_empty() {
        ms += days.strip_suffix('D')?.parse::<f64>().ok()? * MS_PER_DAY;
    }
    let mut number = String::new();
    for c in time.chars() {
        let unit = match c {
            'H' => 3_600_000.0,
            'M' => 60_000.0,
            'S' => 1_000.0,
            _ => {
                number.push(c);
                continue;
            }
        };
        ms += number.parse::<f64>().ok()? * unit;
        number.clear();
    }
    if !number.is_empty() || !ms.is_finite() {
        return None;
    }
    let ms = round_ms(ms);
    Some(if negative { -ms } else { ms })
}

/// A duration the way a spreadsheet shows `[hh]:mm:ss`: `01:30:00`, `36:00:00`, `-00:15:00`,
/// with a fraction only when there is one. Times of day use it too (`10:30:00`).
pub(super) fn duration_text(ms: i64) -> String {
    duration_text_nanos(i128::from(ms) * 1_000_000)
}

/// [`duration_text`] from nanoseconds, for formats finer than Excel's milliseconds.
pub(super) fn duration_text_nanos(nanos: i128) -> String {
    let sign = if nanos < 0 { "-" } else { "" };
    let nanos = nanos.unsigned_abs();
    let (seconds, fraction) = (nanos / 1_000_000_000, (nanos % 1_000_000_000) as u32);
    let (hours, minutes, seconds) = (seconds / 3600, seconds / 60 % 60, seconds % 60);
    format!(
        "{sign}{hours:02}:{minutes:02}:{seconds:02}{}",
        fraction_text(fraction)
    )
}

/// The fractional seconds of a time, in as many digit groups as it needs: "", ".250",
/// ".123456", ".000000001".
pub(super) fn fraction_text(nanos: u32) -> String {
    if nanos == 0 {
        String::new()
    } else if nanos.is_multiple_of(1_000_000) {
        format!(".{:03}", nanos / 1_000_000)
    } else if nanos.is_multiple_of(1_000) {
        format!(".{:06}", nanos / 1_000)
    } else {
        format!(".{nanos:09}")
    }
}

#[cfg(test)]
mod tests {
    use calamine::ExcelDateTimeType;

    use super::*;

    fn text(value: Data) -> String {
        match cell_text(&value) {
            CellText::Text(text) => text.into_owned(),
            CellText::Error(e) => panic!("error cell {e}"),
        }
    }

    fn date(serial: f64) -> Data {
        Data::DateTime(ExcelDateTime::new(
            serial,
            ExcelDateTimeType::DateTime,
            false,
        ))
    }

    #[test]
    fn numbers() {
        assert_eq!(text(Data::Float(42.0)), "42");
        assert_eq!(text(Data::Float(-0.0)), "0");
        assert_eq!(text(Data::Float(119500.0)), "119500");
        assert_eq!(text(Data::Float(0.1)), "0.1");
        assert_eq!(text(Data::Float(0.1 + 0.2)), "0.30000000000000004");
        assert_eq!(text(Data::Float(-1234.5)), "-1234.5");
        assert_eq!(text(Data::Float(1.5e-7)), "1.5e-7");
        assert_eq!(text(Data::Float(1e300)), "1e300");
        assert_eq!(
            text(Data::Float(9_007_199_254_740_993.0)),
            "9007199254740992"
        );
        assert_eq!(text(Data::Int(-7)), "-7");
        assert_eq!(f32_text(0.1), "0.1");
        assert_eq!(f32_text(3.0), "3");
        for value in [0.1, 1.0 / 3.0, 123.456, 1e-300, 2.5e20] {
            assert_eq!(text(Data::Float(value)).parse::<f64>().unwrap(), value);
        }
    }

    #[test]
    fn booleans_strings_and_errors() {
        assert_eq!(text(Data::Bool(true)), "true");
        assert_eq!(text(Data::Bool(false)), "false");
        assert_eq!(text(Data::String(" x ".into())), " x ");
        assert_eq!(text(Data::Empty), "");
        assert!(matches!(
            cell_text(&Data::Error(CellErrorType::NA)),
            CellText::Error(CellErrorType::NA)
        ));
        assert_eq!(CellErrorType::NA.to_string(), "#N/A");
    }

    #[test]
    fn excel_dates_times_and_durations() {
        // 45306 is 2024-01-15 in the 1900 date system.
        assert_eq!(text(date(45306.0)), "2024-01-15");
        assert_eq!(text(date(45306.4375)), "2024-01-15T10:30:00");
        assert_eq!(
            text(date(45306.5 + 0.25 / 86_400.0)),
            "2024-01-15T12:00:00.250"
        );
        assert_eq!(text(date(0.4375)), "10:30:00");
        assert_eq!(text(date(0.0)), "00:00:00");
        // 1904 date system: day 0 is 1904-01-01.
        let d1904 = ExcelDateTime::new(43844.0, ExcelDateTimeType::DateTime, true);
        assert_eq!(text(Data::DateTime(d1904)), "2024-01-15");
        let duration = ExcelDateTime::new(1.5, ExcelDateTimeType::TimeDelta, false);
        assert_eq!(text(Data::DateTime(duration)), "36:00:00");
        // Hostile serials do not panic.
        for serial in [f64::NAN, f64::INFINITY, -5.0, 1e300] {
            let _ = text(date(serial));
        }
    }

    #[test]
    fn iso_dates_and_durations_from_ods() {
        assert_eq!(text(Data::DateTimeIso("2024-01-15".into())), "2024-01-15");
        assert_eq!(
            text(Data::DateTimeIso("2024-01-15T00:00:00".into())),
            "2024-01-15"
        );
        assert_eq!(
            text(Data::DateTimeIso("2024-01-15T10:30:00.000".into())),
            "2024-01-15T10:30:00"
        );
        assert_eq!(
            text(Data::DateTimeIso("2024-01-15T10:30:00.5".into())),
            "2024-01-15T10:30:00.5"
        );
        assert_eq!(text(Data::DurationIso("PT10H30M00S".into())), "10:30:00");
        assert_eq!(text(Data::DurationIso("PT36H".into())), "36:00:00");
        assert_eq!(text(Data::DurationIso("P1DT2H".into())), "26:00:00");
        assert_eq!(text(Data::DurationIso("-PT0H15M".into())), "-00:15:00");
        assert_eq!(text(Data::DurationIso("PT1.25S".into())), "00:00:01.250");
        // Years and months have no fixed length: kept as written.
        assert_eq!(text(Data::DurationIso("P1Y2M".into())), "P1Y2M");
        assert_eq!(text(Data::DurationIso("garbage".into())), "garbage");
    }

    fn table(columns: &[&str], max_cell_bytes: usize) -> Table {
        Table {
            file: "t.xlsx".into(),
            columns: columns.iter().map(|c| c.to_string()).collect(),
            first_col: 1,
            limits: SourceLimits {
                max_columns: 4,
                max_cell_bytes,
                ..SourceLimits::default()
            },
        }
    }

    #[test]
    fn header_names_are_trimmed_filled_and_distinct() {
        let t = table(&[], 100);
        let cells = [
            (1, Data::String(" Name ".into())),
            (3, Data::String("Email".into())),
            (4, Data::String("Email".into())),
        ];
        let names = t.header(1, cells.iter().map(|(c, v)| (*c, v))).unwrap();
        assert_eq!(names, ["Name", "Column 2", "Email", "Email (2)"]);
        let wide = [(5, Data::Int(1))];
        let err = t.header(3, wide.iter().map(|(c, v)| (*c, v))).unwrap_err();
        assert_eq!(
            err.to_string(),
            "t.xlsx: row 3 has 5 columns, over the limit of 4"
        );
    }

    #[test]
    fn rows_wider_than_the_header_and_error_cells_are_defects() {
        let t = table(&["a", "b"], 100);
        let cells = [
            (1, Data::Float(2.0)),
            (2, Data::Error(CellErrorType::Div0)),
            (3, Data::String("extra".into())),
        ];
        let mut out = vec![String::new(); 2];
        let defect = t
            .read_row(7, cells.iter().map(|(c, v)| (*c, v)), Some(&mut out))
            .unwrap();
        assert_eq!(out, ["2", ""]);
        assert_eq!(
            defect.as_deref(),
            Some("row has 3 cells, the header has 2; column 'b' holds the error #DIV/0!")
        );
        let short = [(1, Data::Bool(true))];
        let mut out = vec![String::new(); 2];
        let defect = t
            .read_row(8, short.iter().map(|(c, v)| (*c, v)), Some(&mut out))
            .unwrap();
        assert_eq!((out, defect), (vec!["true".into(), String::new()], None));
    }

    #[test]
    fn cell_limit_names_row_and_column() {
        let t = table(&["a", "b"], 5);
        let cells = [(2, Data::String("123456".into()))];
        let err = t
            .read_row(4, cells.iter().map(|(c, v)| (*c, v)), None)
            .unwrap_err();
        assert!(matches!(err, Error::TooLarge { .. }));
        assert_eq!(
            err.to_string(),
            "t.xlsx: row 4, column 'b': the cell is 6 B, over the limit of 5 B"
        );
    }

    fn source(grid: Grid, limits: SourceLimits) -> Result<ExcelSource> {
        ExcelSource::from_grid(
            Path::new("/uploads/t.ods"),
            FileType::Ods,
            vec!["Sheet1".into()],
            "Sheet1".into(),
            grid,
            limits,
        )
    }

    fn sparse(cells: Vec<(u32, u32, Data)>) -> Grid {
        let cells = cells
            .into_iter()
            .map(|(row, col, value)| SheetCell { row, col, value })
            .collect();
        Grid::sparse(cells)
    }

    /// The same cells as a dense range, as calamine builds it for XLS and ODS.
    fn dense(cells: Vec<(u32, u32, Data)>) -> Grid {
        let cells = cells
            .into_iter()
            .map(|(row, col, value)| calamine::Cell::new((row, col), value))
            .collect();
        Grid::Dense {
            range: Range::from_sparse(cells),
            next: 0,
        }
    }

    fn drain(source: &mut ExcelSource) -> Vec<(u64, Vec<String>, Option<String>)> {
        let mut rows = Vec::new();
        loop {
            let chunk = source.next_chunk(2).unwrap();
            if chunk.is_empty() {
                return rows;
            }
            rows.extend(chunk.into_iter().map(|r| (r.row_number, r.cells, r.defect)));
        }
    }

    /// A table starting at C3 (sheet row 3), a blank row, a note left of the table, a row with
    /// only an empty string, a wide row and an error cell.
    fn shaped_cells() -> Vec<(u32, u32, Data)> {
        vec![
            (2, 2, Data::String("Name".into())),
            (2, 3, Data::String(" Amount ".into())),
            (3, 2, Data::String("Ada".into())),
            (3, 3, Data::Float(500.0)),
            (5, 1, Data::String("note".into())),
            (6, 2, Data::String(String::new())),
            (7, 2, Data::String("Bo".into())),
            (7, 3, Data::Error(CellErrorType::NA)),
            (8, 2, Data::String("Cy".into())),
            (8, 5, Data::Bool(true)),
        ]
    }

    #[test]
    fn sheet_rows_keep_sheet_numbers_and_skip_blank_rows() {
        for grid in [sparse(shaped_cells()), dense(shaped_cells())] {
            let mut source = source(grid, SourceLimits::default()).unwrap();
            // Column B holds only the note, so the table starts there.
            assert_eq!(source.columns(), ["Column 1", "Name", "Amount"]);
            let cells = |v: &[&str]| v.iter().map(|c| c.to_string()).collect::<Vec<_>>();
            assert_eq!(
                drain(&mut source),
                vec![
                    (4, cells(&["", "Ada", "500"]), None),
                    (6, cells(&["note", "", ""]), None),
                    (
                        8,
                        cells(&["", "Bo", ""]),
                        Some("column 'Amount' holds the error #N/A".into())
                    ),
                    (
                        9,
                        cells(&["", "Cy", ""]),
                        Some("row has 5 cells, the header has 3".into())
                    ),
                ]
            );
            assert_eq!(source.describe().sheet.as_deref(), Some("Sheet1"));
        }
    }

    #[test]
    fn count_rest_matches_chunks() {
        let mut source = source(sparse(shaped_cells()), SourceLimits::default()).unwrap();
        assert_eq!(source.next_chunk(1).unwrap().len(), 1);
        let mut defects = Vec::new();
        let count = source
            .count_rest(&mut |row, message| defects.push((row, message.to_string())))
            .unwrap();
        assert_eq!(count, 3);
        assert_eq!(
            defects,
            vec![
                (8, "column 'Amount' holds the error #N/A".to_string()),
                (9, "row has 5 cells, the header has 3".to_string()),
            ]
        );
    }

    #[test]
    fn empty_sheets_and_limits() {
        for grid in [sparse(Vec::new()), dense(Vec::new())] {
            let err = source(grid, SourceLimits::default()).err().unwrap();
            assert_eq!(
                err.to_string(),
                "t.ods: the sheet 'Sheet1' is empty (no header row)"
            );
        }
        let limits = SourceLimits {
            max_columns: 3,
            ..SourceLimits::default()
        };
        let mut source = source(sparse(shaped_cells()), limits).unwrap();
        let err = source.count_rest(&mut |_, _| {}).unwrap_err();
        assert_eq!(
            err.to_string(),
            "t.ods: row 9 has 5 columns, over the limit of 3"
        );
    }
}
