//! The Parquet source: a Parquet file in, rows of strings out, one Arrow record batch at a time.
//!
//! The columns are the fields of the file's Arrow schema. The reader is built on the first
//! [`Source::next_chunk`] call with a batch size near the chunk asked for, so memory is one
//! decoded batch plus the chunk handed out, whatever the file size. Row numbers read as if the
//! file were a sheet: the header is row 1, the first data row is row 2. Every row has every
//! column, so Parquet rows have no defects.
//!
//! Values as text, by Arrow type: strings as they are, integers in decimal, floats as the
//! workbook source writes them (`42`, `0.1`), booleans `true`/`false`, dates `2024-01-15`,
//! timestamps `2024-01-15T10:30:00` (with `Z` when the column has a time zone, since its values
//! are UTC instants), decimals as exact decimal text, null as an empty cell. Nested types (lists,
//! structs, maps, unions) have no single text, so a file with one is refused at open, naming
//! the column. Before anything is read, `parquet_guard` checks the sizes the footer and page
//! headers declare, which the reader trusts.

use std::fs::File;
use std::ops::Range;
use std::panic::{self, AssertUnwindSafe};
use std::path::Path;

use arrow_array::cast::AsArray;
use arrow_array::types::{
    Date32Type, Date64Type, Decimal32Type, Decimal64Type, Decimal128Type, Decimal256Type,
    DurationMicrosecondType, DurationMillisecondType, DurationNanosecondType, DurationSecondType,
    Float16Type, Float32Type, Float64Type, Int8Type, Int16Type, Int32Type, Int64Type,
    Time32MillisecondType, Time32SecondType, Time64MicrosecondType, Time64NanosecondType,
    TimestampMicrosecondType, TimestampMillisecondType, TimestampNanosecondType,
    TimestampSecondType, UInt8Type, UInt16Type, UInt32Type, UInt64Type,
};
use arrow_array::{Array, RecordBatch};
use arrow_schema::{DataType, TimeUnit};
use chrono::{DateTime, NaiveDate};
use parquet::arrow::arrow_reader::{ParquetRecordBatchReader, ParquetRecordBatchReaderBuilder};

use super::excel::{duration_text_nanos, f32_text, float_text, fraction_text};
use super::{
    FileType, Source, SourceInfo, SourceLimits, SourceOptions, SourceRow, cell_too_large,
    distinct_names, file_name, header_name, io_error, source_error, too_many_columns,
};
use crate::{Error, Result};

/// Batch size bounds: small chunks (a 50-row preview) still decode in efficient batches, and a
/// huge chunk request does not decode an unbounded batch.
const MIN_BATCH_ROWS: usize = 1024;
const MAX_BATCH_ROWS: usize = 65_536;
/// Longer than the text of any fixed-width value (a 76-digit Decimal256 is the longest), so
/// under a cell limit at least this big only variable-width values need checking.
const MAX_FIXED_TEXT_BYTES: usize = 128;
const NANOS_PER_SECOND: i64 = 1_000_000_000;
/// Days from 0001-01-01 (chrono's day 1) to 1970-01-01 (Arrow's day 0), minus one.
const UNIX_EPOCH_DAYS_FROM_CE: i32 = 719_163;

pub(crate) struct ParquetSource {
    /// Held until the first chunk, so the batch size can follow the chunk size asked for.
    builder: Option<ParquetRecordBatchReaderBuilder<File>>,
    reader: Option<ParquetRecordBatchReader>,
    /// The batch being handed out, and its next row.
    batch: Option<RecordBatch>,
    offset: usize,
    /// The row number of the next data row.
    next_row: u64,
    columns: Vec<String>,
    info: SourceInfo,
    limits: SourceLimits,
}

/// Why a value has no text.
enum CellError {
    /// A binary value (at this batch index) that is not UTF-8 text.
    NotUtf8(usize),
    Unsupported,
}

impl ParquetSource {
    /// Opens the file and reads its schema. The caller ([`super::open`]) has checked the file
    /// size.
    pub(crate) fn open(path: &Path, options: &SourceOptions) -> Result<ParquetSource> {
        let file = File::open(path).map_err(|e| io_error(path, e))?;
        let builder = ParquetRecordBatchReaderBuilder::try_new(file).map_err(|e| {
            source_error(
                path,
                format!(
                    "the file cannot be read as Parquet ({e}); it may be damaged or of another \
                     type"
                ),
            )
        })?;
        // The reader trusts the sizes the footer and page headers declare.
        super::parquet_guard::check(path, builder.metadata(), &options.limits)?;
        let schema = builder.schema().clone();
        let fields = schema.fields();
        if fields.is_empty() {
            return Err(source_error(path, "the file has no columns"));
        }
        if fields.len() > options.limits.max_columns {
            return Err(too_many_columns(
                &file_name(path),
                1,
                fields.len(),
                options.limits.max_columns,
            ));
        }
        if let Some(field) = fields.iter().find(|f| !supported(f.data_type())) {
            return Err(Error::Source {
                file: file_name(path),
                row: None,
                column: Some(field.name().clone()),
                message: format!(
                    "the column has the type {}, which has no text form to import; write it \
                     as a string column or leave it out",
                    field.data_type()
                ),
            });
        }
        let names = fields
            .iter()
            .enumerate()
            .map(|(i, f)| header_name(f.name(), i))
            .collect();
        Ok(ParquetSource {
            builder: Some(builder),
            reader: None,
            batch: None,
            offset: 0,
            next_row: 2,
            columns: distinct_names(&file_name(path), names)?,
            info: SourceInfo {
                file_type: FileType::Parquet,
                file_name: file_name(path),
                encoding: None,
                delimiter: None,
                sheet_names: Vec::new(),
                sheet: None,
            },
            limits: options.limits,
        })
    }

    /// Makes sure the current batch has a row left, reading the next batch if needed; `false`
    /// at the end of the file.
    fn fill(&mut self, rows_wanted: usize) -> Result<bool> {
        loop {
            if self
                .batch
                .as_ref()
                .is_some_and(|b| self.offset < b.num_rows())
            {
                return Ok(true);
            }
            self.batch = None;
            if let Some(builder) = self.builder.take() {
                let batch_rows = rows_wanted.clamp(MIN_BATCH_ROWS, MAX_BATCH_ROWS);
                let reader = builder
                    .with_batch_size(batch_rows)
                    .build()
                    .map_err(|e| self.read_error(&e))?;
                self.reader = Some(reader);
            }
            let Some(reader) = self.reader.as_mut() else {
                return Ok(false);
            };
            match reader.next() {
                None => {
                    self.reader = None;
                    return Ok(false);
                }
                Some(Err(e)) => return Err(self.read_error(&e)),
                Some(Ok(batch)) => {
                    self.batch = Some(batch);
                    self.offset = 0;
                }
            }
        }
    }

    fn read_error(&self, error: &dyn std::fmt::Display) -> Error {
        Error::Source {
            file: self.info.file_name.clone(),
            row: None,
            column: None,
            message: format!(
                "the data after row {} cannot be read: {error}",
                self.next_row - 1
            ),
        }
    }

    fn cell_error(&self, error: CellError, first_row: u64, column: usize) -> Error {
        let (row, message) = match error {
            CellError::NotUtf8(index) => (
                Some(first_row + index as u64),
                "the binary value is not UTF-8 text".to_string(),
            ),
            CellError::Unsupported => (None, "the column's type has no text form".to_string()),
        };
        Error::Source {
            file: self.info.file_name.clone(),
            row,
            column: Some(self.columns[column].clone()),
            message,
        }
    }

    fn check_len(&self, row: u64, column: usize, len: usize) -> Result<()> {
        if len > self.limits.max_cell_bytes {
            return Err(cell_too_large(
                &self.info.file_name,
                row,
                &self.columns[column],
                len,
                self.limits.max_cell_bytes,
            ));
        }
        Ok(())
    }
}

impl Source for ParquetSource {
    fn columns(&self) -> &[String] {
        &self.columns
    }

    fn next_chunk(&mut self, max_rows: usize) -> Result<Vec<SourceRow>> {
        self.guarded(|source| source.read_chunk(max_rows))
    }

    fn describe(&self) -> SourceInfo {
        self.info.clone()
    }

    fn count_rest(&mut self, _on_defect: &mut dyn FnMut(u64, &str)) -> Result<u64> {
        self.guarded(ParquetSource::count_remaining)
    }
}

impl ParquetSource {
    /// Runs `read`, turning a panic inside the Parquet and Arrow readers into a file error
    /// (fuzzing found damaged pages that make them index out of bounds); the source is unusable
    /// afterwards, as after any error.
    fn guarded<T>(&mut self, read: impl FnOnce(&mut Self) -> Result<T>) -> Result<T> {
        match panic::catch_unwind(AssertUnwindSafe(|| read(&mut *self))) {
            Ok(result) => result,
            Err(payload) => {
                self.builder = None;
                self.reader = None;
                self.batch = None;
                let detail = payload
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| payload.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "the reader failed".to_string());
                Err(self.read_error(&format!("the file is damaged ({detail})")))
            }
        }
    }

    fn read_chunk(&mut self, max_rows: usize) -> Result<Vec<SourceRow>> {
        let max_rows = max_rows.max(1);
        let mut rows: Vec<SourceRow> = Vec::with_capacity(max_rows.min(4096));
        while rows.len() < max_rows && self.fill(max_rows)? {
            let Some(batch) = self.batch.as_ref() else {
                break;
            };
            let take = (batch.num_rows() - self.offset).min(max_rows - rows.len());
            let range = self.offset..self.offset + take;
            let first = rows.len();
            rows.extend((0..take).map(|k| SourceRow {
                row_number: self.next_row + k as u64,
                cells: Vec::with_capacity(self.columns.len()),
                defect: None,
            }));
            for (column, array) in batch.columns().iter().enumerate() {
                let texts = column_texts(array.as_ref(), range.clone())
                    .map_err(|e| self.cell_error(e, self.next_row, column))?;
                for (row, text) in rows[first..].iter_mut().zip(texts) {
                    self.check_len(row.row_number, column, text.len())?;
                    row.cells.push(text);
                }
            }
            self.offset += take;
            self.next_row += take as u64;
        }
        Ok(rows)
    }

    /// Decodes the rest of the file (so a damaged page fails here, as it would in the import)
    /// and checks the cell limit, building text only for values that could be over it.
    fn count_remaining(&mut self) -> Result<u64> {
        let mut count = 0;
        while self.fill(MAX_BATCH_ROWS)? {
            let Some(batch) = self.batch.as_ref() else {
                break;
            };
            let range = self.offset..batch.num_rows();
            for (column, array) in batch.columns().iter().enumerate() {
                self.check_column(array.as_ref(), range.clone(), column)?;
            }
            count += range.len() as u64;
            self.next_row += range.len() as u64;
            self.offset = range.end;
        }
        Ok(count)
    }

    /// The limit and UTF-8 checks of [`Source::next_chunk`] for one column of a batch.
    fn check_column(&self, array: &dyn Array, range: Range<usize>, column: usize) -> Result<()> {
        let first_row = self.next_row;
        let row_of = |i: usize| first_row + (i - range.start) as u64;
        let lens: Vec<(usize, usize)> = match array.data_type() {
            DataType::Utf8 => lens_of(range.clone(), array, |i| {
                array.as_string::<i32>().value(i).len()
            }),
            DataType::LargeUtf8 => lens_of(range.clone(), array, |i| {
                array.as_string::<i64>().value(i).len()
            }),
            DataType::Utf8View => lens_of(range.clone(), array, |i| {
                array.as_string_view().value(i).len()
            }),
            DataType::Binary | DataType::LargeBinary | DataType::BinaryView => {
                for i in range.clone() {
                    if let Some(bytes) = binary_value(array, i) {
                        let text = std::str::from_utf8(bytes).map_err(|_| {
                            self.cell_error(CellError::NotUtf8(i - range.start), first_row, column)
                        })?;
                        self.check_len(row_of(i), column, text.len())?;
                    }
                }
                return Ok(());
            }
            _ if self.limits.max_cell_bytes >= MAX_FIXED_TEXT_BYTES
                && !matches!(array.data_type(), DataType::Dictionary(..)) =>
            {
                return Ok(());
            }
            _ => {
                let texts = column_texts(array, range.clone())
                    .map_err(|e| self.cell_error(e, first_row, column))?;
                texts
                    .iter()
                    .zip(range.clone())
                    .map(|(t, i)| (i, t.len()))
                    .collect()
            }
        };
        for (i, len) in lens {
            self.check_len(row_of(i), column, len)?;
        }
        Ok(())
    }
}

/// (index, length) of the non-null values in `range`.
fn lens_of(
    range: Range<usize>,
    array: &dyn Array,
    len: impl Fn(usize) -> usize,
) -> Vec<(usize, usize)> {
    range
        .filter(|&i| !array.is_null(i))
        .map(|i| (i, len(i)))
        .collect()
}

fn binary_value(array: &dyn Array, i: usize) -> Option<&[u8]> {
    if array.is_null(i) {
        return None;
    }
    match array.data_type() {
        DataType::Binary => Some(array.as_binary::<i32>().value(i)),
        DataType::LargeBinary => Some(array.as_binary::<i64>().value(i)),
        DataType::BinaryView => Some(array.as_binary_view().value(i)),
        _ => None,
    }
}

/// The types [`column_texts`] turns into text.
fn supported(data_type: &DataType) -> bool {
    use DataType::*;
    match data_type {
        Null | Boolean | Int8 | Int16 | Int32 | Int64 | UInt8 | UInt16 | UInt32 | UInt64
        | Float16 | Float32 | Float64 | Utf8 | LargeUtf8 | Utf8View | Binary | LargeBinary
        | BinaryView | Date32 | Date64 | Timestamp(..) | Duration(_) | Decimal32(..)
        | Decimal64(..) | Decimal128(..) | Decimal256(..) => true,
        Time32(unit) => matches!(unit, TimeUnit::Second | TimeUnit::Millisecond),
        Time64(unit) => matches!(unit, TimeUnit::Microsecond | TimeUnit::Nanosecond),
        Dictionary(_, values) => supported(values),
        _ => false,
    }
}

/// The text of each value of `array` in `range`; null is "".
fn column_texts(
    array: &dyn Array,
    range: Range<usize>,
) -> std::result::Result<Vec<String>, CellError> {
    let start = range.start;
    // `$body` builds the text of a non-null value `$i` of the typed array `$a`.
    macro_rules! texts {
        ($typed:expr, |$a:ident, $i:ident| $body:expr) => {{
            let $a = $typed;
            Ok(range
                .map(|$i| if $a.is_null($i) { String::new() } else { $body })
                .collect())
        }};
    }
    macro_rules! display {
        ($type:ty) => {
            texts!(array.as_primitive::<$type>(), |a, i| a.value(i).to_string())
        };
    }
    macro_rules! decimal {
        ($type:ty) => {
            texts!(array.as_primitive::<$type>(), |a, i| a.value_as_string(i))
        };
    }
    macro_rules! nanos {
        ($type:ty, $per_unit:expr, $format:expr) => {
            texts!(array.as_primitive::<$type>(), |a, i| {
                $format(i128::from(a.value(i)) * $per_unit)
            })
        };
    }
    use DataType::*;
    match array.data_type() {
        Null => Ok(vec![String::new(); range.len()]),
        Boolean => texts!(array.as_boolean(), |a, i| a.value(i).to_string()),
        Int8 => display!(Int8Type),
        Int16 => display!(Int16Type),
        Int32 => display!(Int32Type),
        Int64 => display!(Int64Type),
        UInt8 => display!(UInt8Type),
        UInt16 => display!(UInt16Type),
        UInt32 => display!(UInt32Type),
        UInt64 => display!(UInt64Type),
        Float16 => texts!(array.as_primitive::<Float16Type>(), |a, i| f32_text(
            a.value(i).to_f32()
        )),
        Float32 => texts!(array.as_primitive::<Float32Type>(), |a, i| f32_text(
            a.value(i)
        )),
        Float64 => texts!(array.as_primitive::<Float64Type>(), |a, i| float_text(
            a.value(i)
        )),
        Utf8 => texts!(array.as_string::<i32>(), |a, i| a.value(i).to_owned()),
        LargeUtf8 => texts!(array.as_string::<i64>(), |a, i| a.value(i).to_owned()),
        Utf8View => texts!(array.as_string_view(), |a, i| a.value(i).to_owned()),
        Binary | LargeBinary | BinaryView => range
            .map(|i| match binary_value(array, i) {
                None => Ok(String::new()),
                Some(bytes) => std::str::from_utf8(bytes)
                    .map(str::to_owned)
                    .map_err(|_| CellError::NotUtf8(i - start)),
            })
            .collect(),
        Date32 => texts!(array.as_primitive::<Date32Type>(), |a, i| date32_text(
            a.value(i)
        )),
        Date64 => texts!(array.as_primitive::<Date64Type>(), |a, i| date64_text(
            a.value(i)
        )),
        Timestamp(unit, zone) => {
            let utc = zone.is_some();
            let value = |v: i64, per_second: i64| timestamp_text(v, per_second, utc);
            match unit {
                TimeUnit::Second => {
                    texts!(array.as_primitive::<TimestampSecondType>(), |a, i| value(
                        a.value(i),
                        1
                    ))
                }
                TimeUnit::Millisecond => {
                    texts!(array.as_primitive::<TimestampMillisecondType>(), |a, i| {
                        value(a.value(i), 1_000)
                    })
                }
                TimeUnit::Microsecond => {
                    texts!(array.as_primitive::<TimestampMicrosecondType>(), |a, i| {
                        value(a.value(i), 1_000_000)
                    })
                }
                TimeUnit::Nanosecond => {
                    texts!(array.as_primitive::<TimestampNanosecondType>(), |a, i| {
                        value(a.value(i), NANOS_PER_SECOND)
                    })
                }
            }
        }
        Time32(TimeUnit::Second) => nanos!(Time32SecondType, 1_000_000_000, duration_text_nanos),
        Time32(TimeUnit::Millisecond) => {
            nanos!(Time32MillisecondType, 1_000_000, duration_text_nanos)
        }
        Time64(TimeUnit::Microsecond) => {
            nanos!(Time64MicrosecondType, 1_000, duration_text_nanos)
        }
        Time64(TimeUnit::Nanosecond) => nanos!(Time64NanosecondType, 1, duration_text_nanos),
        Duration(TimeUnit::Second) => {
            nanos!(DurationSecondType, 1_000_000_000, duration_text_nanos)
        }
        Duration(TimeUnit::Millisecond) => {
            nanos!(DurationMillisecondType, 1_000_000, duration_text_nanos)
        }
        Duration(TimeUnit::Microsecond) => {
            nanos!(DurationMicrosecondType, 1_000, duration_text_nanos)
        }
        Duration(TimeUnit::Nanosecond) => {
            nanos!(DurationNanosecondType, 1, duration_text_nanos)
        }
        Decimal32(..) => decimal!(Decimal32Type),
        Decimal64(..) => decimal!(Decimal64Type),
        Decimal128(..) => decimal!(Decimal128Type),
        Decimal256(..) => decimal!(Decimal256Type),
        Dictionary(..) => {
            let dictionary = array.as_any_dictionary();
            let keys = dictionary.normalized_keys();
            let values = dictionary.values().as_ref();
            range
                .map(|i| {
                    if array.is_null(i) {
                        return Ok(String::new());
                    }
                    let key = keys.get(i).copied().ok_or(CellError::Unsupported)?;
                    if key >= values.len() {
                        return Err(CellError::Unsupported);
                    }
                    let mut text = column_texts(values, key..key + 1).map_err(|e| match e {
                        CellError::NotUtf8(_) => CellError::NotUtf8(i - start),
                        other => other,
                    })?;
                    Ok(text.pop().unwrap_or_default())
                })
                .collect()
        }
        _ => Err(CellError::Unsupported),
    }
}

fn date32_text(days: i32) -> String {
    days.checked_add(UNIX_EPOCH_DAYS_FROM_CE)
        .and_then(NaiveDate::from_num_days_from_ce_opt)
        .map_or_else(|| days.to_string(), |d| d.format("%Y-%m-%d").to_string())
}

/// Date64 is milliseconds since the epoch that should be whole days; any time part is dropped,
/// as the type means a date.
fn date64_text(ms: i64) -> String {
    DateTime::from_timestamp_millis(ms)
        .map_or_else(|| ms.to_string(), |d| d.format("%Y-%m-%d").to_string())
}

/// A timestamp of `per_second` units since the epoch as ISO 8601; `utc` adds the `Z` of a
/// column with a time zone (whose values are UTC instants).
fn timestamp_text(value: i64, per_second: i64, utc: bool) -> String {
    let seconds = value.div_euclid(per_second);
    let nanos = value.rem_euclid(per_second) * (NANOS_PER_SECOND / per_second);
    let Some(time) = u32::try_from(nanos)
        .ok()
        .and_then(|n| DateTime::from_timestamp(seconds, n))
    else {
        // Beyond chrono's range (about ±262,000 years): the raw number, which validation rejects.
        return value.to_string();
    };
    format!(
        "{}{}{}",
        time.format("%Y-%m-%dT%H:%M:%S"),
        fraction_text(time.timestamp_subsec_nanos()),
        if utc { "Z" } else { "" }
    )
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow_array::builder::StringDictionaryBuilder;
    use arrow_array::{
        ArrayRef, BinaryArray, BooleanArray, Date32Array, Date64Array, Decimal128Array,
        DurationSecondArray, Float32Array, Float64Array, Int64Array, ListArray, NullArray,
        StringArray, Time64MicrosecondArray, TimestampMillisecondArray, UInt64Array,
    };
    use arrow_schema::{Field, Schema};
    use parquet::arrow::ArrowWriter;

    use super::*;

    fn texts(array: ArrayRef) -> Vec<String> {
        match column_texts(array.as_ref(), 0..array.len()) {
            Ok(texts) => texts,
            Err(CellError::NotUtf8(i)) => panic!("not UTF-8 at {i}"),
            Err(CellError::Unsupported) => panic!("unsupported"),
        }
    }

    #[test]
    fn numbers_and_booleans() {
        assert_eq!(
            texts(Arc::new(Int64Array::from(vec![Some(-5), None, Some(42)]))),
            ["-5", "", "42"]
        );
        assert_eq!(
            texts(Arc::new(UInt64Array::from(vec![u64::MAX]))),
            ["18446744073709551615"]
        );
        assert_eq!(
            texts(Arc::new(Float64Array::from(vec![500.0, 0.1, 1e-7, -2.5]))),
            ["500", "0.1", "1e-7", "-2.5"]
        );
        assert_eq!(
            texts(Arc::new(Float32Array::from(vec![0.1f32, 3.0]))),
            ["0.1", "3"]
        );
        assert_eq!(
            texts(Arc::new(BooleanArray::from(vec![
                Some(true),
                None,
                Some(false)
            ]))),
            ["true", "", "false"]
        );
        assert_eq!(texts(Arc::new(NullArray::new(2))), ["", ""]);
    }

    #[test]
    fn decimals_are_exact() {
        let decimals = Decimal128Array::from(vec![Some(11_950_000), Some(-5), None])
            .with_precision_and_scale(12, 2)
            .unwrap();
        assert_eq!(texts(Arc::new(decimals)), ["119500.00", "-0.05", ""]);
    }

    #[test]
    fn dates_times_and_durations() {
        // 19723 days after 1970-01-01 is 2024-01-01.
        assert_eq!(
            texts(Arc::new(Date32Array::from(vec![
                Some(19723),
                None,
                Some(-1)
            ]))),
            ["2024-01-01", "", "1969-12-31"]
        );
        assert_eq!(
            texts(Arc::new(Date64Array::from(vec![19723 * 86_400_000]))),
            ["2024-01-01"]
        );
        let instant = 1_705_314_600_000; // 2024-01-15T10:30:00Z
        let naive = TimestampMillisecondArray::from(vec![instant, instant + 250, -1]);
        assert_eq!(
            texts(Arc::new(naive)),
            [
                "2024-01-15T10:30:00",
                "2024-01-15T10:30:00.250",
                "1969-12-31T23:59:59.999"
            ]
        );
        let zoned = TimestampMillisecondArray::from(vec![instant]).with_timezone("+01:00");
        assert_eq!(texts(Arc::new(zoned)), ["2024-01-15T10:30:00Z"]);
        assert_eq!(
            texts(Arc::new(Time64MicrosecondArray::from(vec![37_800_000_001]))),
            ["10:30:00.000001"]
        );
        assert_eq!(
            texts(Arc::new(DurationSecondArray::from(vec![131_400, -60]))),
            ["36:30:00", "-00:01:00"]
        );
    }

    #[test]
    fn strings_binary_and_dictionaries() {
        assert_eq!(
            texts(Arc::new(StringArray::from(vec![Some(" a "), None]))),
            [" a ", ""]
        );
        let binary = BinaryArray::from(vec![&b"ok"[..], &b"\xff"[..]]);
        assert!(matches!(
            column_texts(&binary, 0..2),
            Err(CellError::NotUtf8(1))
        ));
        let mut builder = StringDictionaryBuilder::<Int32Type>::new();
        builder.append_value("lead");
        builder.append_null();
        builder.append_value("lead");
        builder.append_value("active");
        assert_eq!(
            texts(Arc::new(builder.finish())),
            ["lead", "", "lead", "active"]
        );
    }

    fn write_parquet(dir: &tempfile::TempDir, batch: &RecordBatch) -> std::path::PathBuf {
        let path = dir.path().join("t.parquet");
        let file = File::create(&path).unwrap();
        let mut writer = ArrowWriter::try_new(file, batch.schema(), None).unwrap();
        writer.write(batch).unwrap();
        writer.close().unwrap();
        path
    }

    #[test]
    fn nested_columns_are_refused_by_name() {
        let dir = tempfile::tempdir().unwrap();
        let list = ListArray::from_iter_primitive::<Int32Type, _, _>(vec![Some(vec![Some(1)])]);
        let batch = RecordBatch::try_from_iter([
            ("name", Arc::new(StringArray::from(vec!["a"])) as ArrayRef),
            ("tags", Arc::new(list) as ArrayRef),
        ])
        .unwrap();
        let path = write_parquet(&dir, &batch);
        let err = ParquetSource::open(&path, &SourceOptions::default())
            .err()
            .unwrap();
        match err {
            Error::Source { file, column, .. } => {
                assert_eq!(file, "t.parquet");
                assert_eq!(column.as_deref(), Some("tags"));
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn chunks_span_batches_and_limits_name_row_and_column() {
        let dir = tempfile::tempdir().unwrap();
        let names: Vec<String> = (0..3000).map(|i| format!("n{i}")).collect();
        let schema = Arc::new(Schema::new(vec![
            Field::new("name", DataType::Utf8, false),
            Field::new(" ", DataType::Int64, true),
        ]));
        let batch = RecordBatch::try_new(
            schema,
            vec![
                Arc::new(StringArray::from(names)),
                Arc::new(Int64Array::from((0..3000).collect::<Vec<i64>>())),
            ],
        )
        .unwrap();
        let path = write_parquet(&dir, &batch);
        let mut source = ParquetSource::open(&path, &SourceOptions::default()).unwrap();
        assert_eq!(source.columns(), ["name", "Column 2"]);
        let mut seen = 0u64;
        loop {
            let chunk = source.next_chunk(700).unwrap();
            if chunk.is_empty() {
                break;
            }
            for row in &chunk {
                assert_eq!(row.row_number, seen + 2);
                assert_eq!(row.cells, [format!("n{seen}"), seen.to_string()]);
                seen += 1;
            }
        }
        assert_eq!(seen, 3000);

        let mut source = ParquetSource::open(&path, &SourceOptions::default()).unwrap();
        assert_eq!(source.next_chunk(10).unwrap().len(), 10);
        assert_eq!(source.count_rest(&mut |_, _| {}).unwrap(), 2990);

        let options = SourceOptions {
            limits: SourceLimits {
                max_cell_bytes: 4,
                ..SourceLimits::default()
            },
            ..SourceOptions::default()
        };
        // "n1000" is the first value over 4 bytes: data row 1001, sheet row 1002.
        let expected = "t.parquet: row 1002, column 'name': the cell is 5 B, over the limit of 4 B";
        let mut source = ParquetSource::open(&path, &options).unwrap();
        assert_eq!(
            source.count_rest(&mut |_, _| {}).unwrap_err().to_string(),
            expected
        );
        let mut source = ParquetSource::open(&path, &options).unwrap();
        let err = loop {
            match source.next_chunk(300) {
                Ok(chunk) => assert!(!chunk.is_empty()),
                Err(err) => break err,
            }
        };
        assert_eq!(err.to_string(), expected);
    }
}
