//! Parquet sink: typed columns, zstd-compressed, written in row groups as pages of rows arrive.
//!
//! In: columns and typed cells. Out: a Parquet file whose column names are the column labels
//! (made unique) and whose types follow the field types: numbers and currency `Float64`, the
//! version `Int64`, booleans `Boolean`, dates `Date32`, date-times `Timestamp(µs, UTC)`, the rest
//! UTF-8. Guarantees: memory is bounded by one row group ([`ROW_GROUP_ROWS`] rows, held encoded
//! by the writer) plus one batch of rows ([`BATCH_ROWS`]); `dateFormat` does not apply, dates
//! stay typed.

use std::io::Write;
use std::sync::Arc;

use arrow_array::builder::{
    BooleanBuilder, Date32Builder, Float64Builder, Int64Builder, StringBuilder,
    TimestampMicrosecondBuilder,
};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, Schema, SchemaRef, TimeUnit};
use chrono::NaiveDate;
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;

use super::{Sink, SinkOptions, TextFormats, encode_error};
use crate::error::Result;
use crate::export::columns::{Column, ValueKind};
use crate::export::rows::{CellRef, Rows};

/// Rows per row group: large enough for good compression and fast scans, small enough that the
/// writer's buffered group stays in the tens of megabytes.
pub const ROW_GROUP_ROWS: usize = 64 * 1024;

pub struct ParquetSink {
    out: Option<Box<dyn Write + Send>>,
    writer: Option<ArrowWriter<Box<dyn Write + Send>>>,
    schema: Option<SchemaRef>,
    /// One builder per column, filled row by row across pages and emptied every
    /// [`BATCH_ROWS`] rows: a page of a thousand rows is a small batch for the writer.
    builders: Vec<ColumnBuilder>,
    buffered: usize,
    /// Text of non-text cells that land in a text column.
    formats: TextFormats,
    target: String,
}

/// Rows handed to the Parquet writer at once.
const BATCH_ROWS: usize = 8 * 1024;

impl ParquetSink {
    pub fn new(options: &SinkOptions, out: Box<dyn Write + Send>) -> ParquetSink {
        ParquetSink {
            out: Some(out),
            writer: None,
            schema: None,
            builders: Vec::new(),
            buffered: 0,
            formats: TextFormats::new(None, "%Y-%m-%d", "%Y-%m-%dT%H:%M:%SZ")
                .unwrap_or_else(|_| unreachable!("the built-in formats parse")),
            target: options.target.clone(),
        }
    }

    /// Hands the buffered rows to the writer as one batch.
    fn write_batch(&mut self) -> Result<()> {
        if self.buffered == 0 {
            return Ok(());
        }
        let arrays: Vec<ArrayRef> = self
            .builders
            .iter_mut()
            .map(ColumnBuilder::finish)
            .collect();
        self.buffered = 0;
        let (Some(schema), Some(writer)) = (self.schema.clone(), self.writer.as_mut()) else {
            return Err(encode_error(&self.target, "Parquet", "write before begin"));
        };
        let batch = RecordBatch::try_new(schema, arrays)
            .map_err(|e| encode_error(&self.target, "Parquet", e))?;
        writer
            .write(&batch)
            .map_err(|e| encode_error(&self.target, "Parquet", e))
    }
}

/// The values of one column until the next batch, typed as the column is.
enum ColumnBuilder {
    Text(StringBuilder),
    Number(Float64Builder),
    Integer(Int64Builder),
    Boolean(BooleanBuilder),
    Date(Date32Builder),
    DateTime(TimestampMicrosecondBuilder),
}

impl ColumnBuilder {
    fn new(kind: ValueKind) -> ColumnBuilder {
        let n = BATCH_ROWS;
        match kind {
            ValueKind::Text => ColumnBuilder::Text(StringBuilder::with_capacity(n, n * 16)),
            ValueKind::Number => ColumnBuilder::Number(Float64Builder::with_capacity(n)),
            ValueKind::Integer => ColumnBuilder::Integer(Int64Builder::with_capacity(n)),
            ValueKind::Boolean => ColumnBuilder::Boolean(BooleanBuilder::with_capacity(n)),
            ValueKind::Date => ColumnBuilder::Date(Date32Builder::with_capacity(n)),
            ValueKind::DateTime => ColumnBuilder::DateTime(
                TimestampMicrosecondBuilder::with_capacity(n).with_timezone("UTC"),
            ),
        }
    }

    /// Appends a cell; a cell of another kind than the column's is null, except in a text
    /// column, which shows it as text.
    fn append(&mut self, cell: CellRef<'_>, formats: &TextFormats, text: &mut String) {
        match self {
            ColumnBuilder::Text(b) => match cell {
                CellRef::Empty => b.append_null(),
                CellRef::Text(t) => b.append_value(t),
                other => {
                    text.clear();
                    formats.push(other, text);
                    b.append_value(&*text);
                }
            },
            ColumnBuilder::Number(b) => b.append_option(match cell {
                CellRef::Number(v) => Some(v),
                CellRef::Integer(v) => Some(v as f64),
                _ => None,
            }),
            ColumnBuilder::Integer(b) => b.append_option(match cell {
                CellRef::Integer(v) => Some(v),
                _ => None,
            }),
            ColumnBuilder::Boolean(b) => b.append_option(match cell {
                CellRef::Boolean(v) => Some(v),
                _ => None,
            }),
            ColumnBuilder::Date(b) => b.append_option(match cell {
                CellRef::Date(d) => Some(days_since_epoch(d)),
                _ => None,
            }),
            ColumnBuilder::DateTime(b) => b.append_option(match cell {
                CellRef::DateTime(t) => Some(t.timestamp_micros()),
                _ => None,
            }),
        }
    }

    /// The values so far, as an array; the builder starts over empty.
    fn finish(&mut self) -> ArrayRef {
        match self {
            ColumnBuilder::Text(b) => Arc::new(b.finish()),
            ColumnBuilder::Number(b) => Arc::new(b.finish()),
            ColumnBuilder::Integer(b) => Arc::new(b.finish()),
            ColumnBuilder::Boolean(b) => Arc::new(b.finish()),
            ColumnBuilder::Date(b) => Arc::new(b.finish()),
            ColumnBuilder::DateTime(b) => Arc::new(b.finish()),
        }
    }
}

fn data_type(kind: ValueKind) -> DataType {
    match kind {
        ValueKind::Text => DataType::Utf8,
        ValueKind::Number => DataType::Float64,
        ValueKind::Integer => DataType::Int64,
        ValueKind::Boolean => DataType::Boolean,
        ValueKind::Date => DataType::Date32,
        ValueKind::DateTime => DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
    }
}

/// Column names must be unique for readers such as pandas: a repeated label gets ` (2)`, ….
fn unique_names(columns: &[Column]) -> Vec<String> {
    let mut names: Vec<String> = Vec::with_capacity(columns.len());
    for column in columns {
        let mut name = column.label.clone();
        let mut n = 2;
        while names.contains(&name) {
            name = format!("{} ({n})", column.label);
            n += 1;
        }
        names.push(name);
    }
    names
}

fn days_since_epoch(date: NaiveDate) -> i32 {
    let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or_default();
    (date - epoch).num_days() as i32
}

impl Sink for ParquetSink {
    fn begin(&mut self, columns: &[Column]) -> Result<()> {
        let names = unique_names(columns);
        let fields: Vec<Field> = columns
            .iter()
            .zip(names)
            .map(|(c, name)| Field::new(name, data_type(c.kind), true))
            .collect();
        let schema: SchemaRef = Arc::new(Schema::new(fields));
        let props = WriterProperties::builder()
            .set_compression(Compression::ZSTD(ZstdLevel::default()))
            .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
            .set_created_by(format!("recordport {}", env!("CARGO_PKG_VERSION")))
            .build();
        let out = self
            .out
            .take()
            .ok_or_else(|| encode_error(&self.target, "Parquet", "begin called twice"))?;
        let writer = ArrowWriter::try_new(out, schema.clone(), Some(props))
            .map_err(|e| encode_error(&self.target, "Parquet", e))?;
        self.builders = columns.iter().map(|c| ColumnBuilder::new(c.kind)).collect();
        self.schema = Some(schema);
        self.writer = Some(writer);
        Ok(())
    }

    fn write(&mut self, rows: &Rows) -> Result<()> {
        let mut text = String::new();
        for row in 0..rows.len() {
            for (builder, cell) in self.builders.iter_mut().zip(rows.row(row)) {
                builder.append(cell, &self.formats, &mut text);
            }
            self.buffered += 1;
            if self.buffered == BATCH_ROWS {
                self.write_batch()?;
            }
        }
        Ok(())
    }

    fn finish(mut self: Box<Self>) -> Result<()> {
        self.write_batch()?;
        let writer = self
            .writer
            .take()
            .ok_or_else(|| encode_error(&self.target, "Parquet", "finish before begin"))?;
        let mut out = writer
            .into_inner()
            .map_err(|e| encode_error(&self.target, "Parquet", e))?;
        out.flush().map_err(|e| super::io_error(&self.target, e))
    }
}
