//! Parquet sink: typed columns, zstd-compressed, written in row groups as pages of rows arrive.
//!
//! In: columns and typed cells. Out: a Parquet file whose column names are the column labels
//! (made unique) and whose types follow the field types: numbers and currency `Float64`, the
//! version `Int64`, booleans `Boolean`, dates `Date32`, date-times `Timestamp(µs, UTC)`, the rest
//! UTF-8. Guarantees: memory is bounded by one row group ([`ROW_GROUP_ROWS`] rows, held encoded
//! by the writer) plus one page of rows; `dateFormat` does not apply, dates stay typed.

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
use crate::export::columns::{Cell, Column, ValueKind};

/// Rows per row group: large enough for good compression and fast scans, small enough that the
/// writer's buffered group stays in the tens of megabytes.
pub const ROW_GROUP_ROWS: usize = 64 * 1024;

pub struct ParquetSink {
    out: Option<Box<dyn Write + Send>>,
    writer: Option<ArrowWriter<Box<dyn Write + Send>>>,
    schema: Option<SchemaRef>,
    kinds: Vec<ValueKind>,
    /// Text of non-text cells that land in a text column.
    formats: TextFormats,
    target: String,
}

impl ParquetSink {
    pub fn new(options: &SinkOptions, out: Box<dyn Write + Send>) -> ParquetSink {
        ParquetSink {
            out: Some(out),
            writer: None,
            schema: None,
            kinds: Vec::new(),
            formats: TextFormats::new(None, "%Y-%m-%d", "%Y-%m-%dT%H:%M:%SZ")
                .unwrap_or_else(|_| unreachable!("the built-in formats parse")),
            target: options.target.clone(),
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

impl ParquetSink {
    fn column_array(&self, index: usize, kind: ValueKind, rows: &[Vec<Cell>]) -> ArrayRef {
        let cells = rows.iter().map(|r| r.get(index).unwrap_or(&Cell::Empty));
        let n = rows.len();
        match kind {
            ValueKind::Text => {
                let mut b = StringBuilder::with_capacity(n, n * 16);
                let mut text = String::new();
                for cell in cells {
                    match cell {
                        Cell::Empty => b.append_null(),
                        Cell::Text(t) => b.append_value(t),
                        other => {
                            text.clear();
                            self.formats.push(other, &mut text);
                            b.append_value(&text);
                        }
                    }
                }
                Arc::new(b.finish())
            }
            ValueKind::Number => {
                let mut b = Float64Builder::with_capacity(n);
                for cell in cells {
                    b.append_option(match cell {
                        Cell::Number(v) => Some(*v),
                        Cell::Integer(v) => Some(*v as f64),
                        _ => None,
                    });
                }
                Arc::new(b.finish())
            }
            ValueKind::Integer => {
                let mut b = Int64Builder::with_capacity(n);
                for cell in cells {
                    b.append_option(match cell {
                        Cell::Integer(v) => Some(*v),
                        _ => None,
                    });
                }
                Arc::new(b.finish())
            }
            ValueKind::Boolean => {
                let mut b = BooleanBuilder::with_capacity(n);
                for cell in cells {
                    b.append_option(match cell {
                        Cell::Boolean(v) => Some(*v),
                        _ => None,
                    });
                }
                Arc::new(b.finish())
            }
            ValueKind::Date => {
                let mut b = Date32Builder::with_capacity(n);
                for cell in cells {
                    b.append_option(match cell {
                        Cell::Date(d) => Some(days_since_epoch(*d)),
                        _ => None,
                    });
                }
                Arc::new(b.finish())
            }
            ValueKind::DateTime => {
                let mut b = TimestampMicrosecondBuilder::with_capacity(n).with_timezone("UTC");
                for cell in cells {
                    b.append_option(match cell {
                        Cell::DateTime(t) => Some(t.timestamp_micros()),
                        _ => None,
                    });
                }
                let array = b.finish();
                debug_assert_eq!(array.len(), n);
                Arc::new(array)
            }
        }
    }
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
        self.kinds = columns.iter().map(|c| c.kind).collect();
        self.schema = Some(schema);
        self.writer = Some(writer);
        Ok(())
    }

    fn write(&mut self, rows: &[Vec<Cell>]) -> Result<()> {
        if rows.is_empty() {
            return Ok(());
        }
        let arrays: Vec<ArrayRef> = self
            .kinds
            .iter()
            .enumerate()
            .map(|(i, kind)| self.column_array(i, *kind, rows))
            .collect();
        let (Some(schema), Some(writer)) = (self.schema.clone(), self.writer.as_mut()) else {
            return Err(encode_error(&self.target, "Parquet", "write before begin"));
        };
        let batch = RecordBatch::try_new(schema, arrays)
            .map_err(|e| encode_error(&self.target, "Parquet", e))?;
        writer
            .write(&batch)
            .map_err(|e| encode_error(&self.target, "Parquet", e))
    }

    fn finish(mut self: Box<Self>) -> Result<()> {
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
