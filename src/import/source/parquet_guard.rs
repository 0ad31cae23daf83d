//! The declared sizes of a Parquet file, checked before any page is read.
//!
//! In: the file, its parsed footer and the [`SourceLimits`]. Out: `Ok`, [`Error::TooLarge`]
//! naming the limit passed, or [`Error::Source`] for sizes the file cannot hold. Guarantees:
//! - every row group's row count and every column chunk's value count is non-negative, and
//!   every column chunk lies inside the file (the reader sizes its reads by what the footer
//!   says);
//! - every page header of every column chunk declares at most `max_page_bytes` decompressed:
//!   the reader makes room for a page's declared size before it decompresses it (Snappy fills
//!   it with zeros first), so a page of a few bytes declaring 2 GiB would cost 2 GiB.
//!
//! The page headers are read with a small Thrift compact-protocol walker that keeps only the
//! two sizes and skips the rest: memory is a read buffer, time is linear in the number of
//! pages (each header is read once). A header that cannot be read ends the walk of its chunk
//! with `Ok`; the reader then reports the damage where it meets it.

use std::fs::File;
use std::io::{BufRead, BufReader, Seek, SeekFrom};
use std::path::Path;

use parquet::file::metadata::ParquetMetaData;

use super::{SourceLimits, file_name, human_bytes, io_error, source_error};
use crate::{Error, Result};

/// PageHeader fields (parquet.thrift): the two sizes, in bytes.
const UNCOMPRESSED_PAGE_SIZE: i16 = 2;
const COMPRESSED_PAGE_SIZE: i16 = 3;
/// Nesting deeper than any PageHeader has is damage.
const MAX_DEPTH: u32 = 16;

/// Checks the footer's and the page headers' sizes.
pub(super) fn check(path: &Path, metadata: &ParquetMetaData, limits: &SourceLimits) -> Result<()> {
    let file = File::open(path).map_err(|e| io_error(path, e))?;
    let file_len = file.metadata().map_err(|e| io_error(path, e))?.len();
    let mut reader = BufReader::with_capacity(8 * 1024, file);
    for (group_index, group) in metadata.row_groups().iter().enumerate() {
        let group_number = group_index + 1;
        if group.num_rows() < 0 {
            return Err(source_error(
                path,
                format!(
                    "row group {group_number} declares {} rows; the file is damaged",
                    group.num_rows()
                ),
            ));
        }
        for chunk in group.columns() {
            let column = chunk.column_path().string();
            let start = chunk
                .dictionary_page_offset()
                .unwrap_or(chunk.data_page_offset());
            let len = chunk.compressed_size();
            let end = start.checked_add(len);
            if start < 0
                || len < 0
                || chunk.num_values() < 0
                || end.is_none_or(|end| end as u64 > file_len)
            {
                return Err(source_error(
                    path,
                    format!(
                        "column '{column}' of row group {group_number} declares {len} bytes at \
                         offset {start} ({} values), which the file of {file_len} bytes does not \
                         hold; the file is damaged",
                        chunk.num_values()
                    ),
                ));
            }
            let chunk = Chunk {
                start: start as u64,
                end: start as u64 + len as u64,
            };
            if let Some(declared) = chunk.largest_page(&mut reader, limits.max_page_bytes)? {
                return Err(Error::TooLarge {
                    file: file_name(path),
                    message: format!(
                        "column '{column}' of row group {group_number} has a page declaring {} \
                         decompressed, over {} (the limit per page)",
                        human_bytes(declared),
                        human_bytes(limits.max_page_bytes)
                    ),
                });
            }
        }
    }
    Ok(())
}

/// A column chunk's bytes in the file.
struct Chunk {
    start: u64,
    end: u64,
}

impl Chunk {
    /// The first page size over `limit` its headers declare, if any.
    fn largest_page(&self, reader: &mut BufReader<File>, limit: u64) -> Result<Option<u64>> {
        let mut at = self.start;
        while at < self.end {
            if reader.seek(SeekFrom::Start(at)).is_err() {
                return Ok(None);
            }
            let mut header = Compact {
                reader: &mut *reader,
                read: 0,
                left: self.end - at,
            };
            let Some((uncompressed, compressed)) = header.page_sizes() else {
                return Ok(None);
            };
            if uncompressed > limit {
                return Ok(Some(uncompressed));
            }
            at += header.read + compressed;
        }
        Ok(None)
    }
}

/// A Thrift compact-protocol reader over at most `left` bytes; `None` for anything that is
/// not a well-formed value within them.
struct Compact<'r, R> {
    reader: &'r mut R,
    read: u64,
    left: u64,
}

impl<R: BufRead + Seek> Compact<'_, R> {
    /// A PageHeader's uncompressed and compressed sizes, both present and non-negative.
    fn page_sizes(&mut self) -> Option<(u64, u64)> {
        let (mut uncompressed, mut compressed) = (None, None);
        let mut field = 0i16;
        loop {
            let head = self.byte()?;
            if head == 0 {
                break;
            }
            let kind = head & 0x0F;
            field = match head >> 4 {
                0 => self.zigzag()? as i16,
                delta => field.checked_add(i16::from(delta))?,
            };
            match (field, kind) {
                (UNCOMPRESSED_PAGE_SIZE, 5) => uncompressed = Some(self.zigzag()?),
                (COMPRESSED_PAGE_SIZE, 5) => compressed = Some(self.zigzag()?),
                _ => self.skip(kind, 0)?,
            }
        }
        let size = |v: Option<i64>| v.and_then(|v| u64::try_from(v).ok());
        Some((size(uncompressed)?, size(compressed)?))
    }

    fn byte(&mut self) -> Option<u8> {
        self.left = self.left.checked_sub(1)?;
        let mut byte = [0u8];
        self.reader.read_exact(&mut byte).ok()?;
        self.read += 1;
        Some(byte[0])
    }

    fn varint(&mut self) -> Option<u64> {
        let mut value = 0u64;
        for shift in (0..70).step_by(7) {
            let byte = self.byte()?;
            value |= u64::from(byte & 0x7F).checked_shl(shift)?;
            if byte & 0x80 == 0 {
                return Some(value);
            }
        }
        None
    }

    fn zigzag(&mut self) -> Option<i64> {
        let v = self.varint()?;
        Some((v >> 1) as i64 ^ -((v & 1) as i64))
    }

    fn skip_bytes(&mut self, n: u64) -> Option<()> {
        self.left = self.left.checked_sub(n)?;
        self.reader.seek_relative(i64::try_from(n).ok()?).ok()?;
        self.read += n;
        Some(())
    }

    /// Skips one value of compact type `kind`.
    fn skip(&mut self, kind: u8, depth: u32) -> Option<()> {
        if depth > MAX_DEPTH {
            return None;
        }
        match kind {
            // Booleans as a field's type carry their value in it.
            1 | 2 => Some(()),
            3 => self.skip_bytes(1),
            4..=6 => self.varint().map(drop),
            7 => self.skip_bytes(8),
            8 => {
                let len = self.varint()?;
                self.skip_bytes(len)
            }
            9 | 10 => {
                let head = self.byte()?;
                let count = match head >> 4 {
                    15 => self.varint()?,
                    n => u64::from(n),
                };
                let element = head & 0x0F;
                for _ in 0..count {
                    // A boolean element is a byte of its own.
                    if matches!(element, 1 | 2) {
                        self.skip_bytes(1)?;
                    } else {
                        self.skip(element, depth + 1)?;
                    }
                }
                Some(())
            }
            11 => {
                let count = self.varint()?;
                if count == 0 {
                    return Some(());
                }
                let kinds = self.byte()?;
                for _ in 0..count {
                    for kind in [kinds >> 4, kinds & 0x0F] {
                        if matches!(kind, 1 | 2) {
                            self.skip_bytes(1)?;
                        } else {
                            self.skip(kind, depth + 1)?;
                        }
                    }
                }
                Some(())
            }
            12 => loop {
                let head = self.byte()?;
                if head == 0 {
                    return Some(());
                }
                if head >> 4 == 0 {
                    self.zigzag()?;
                }
                self.skip(head & 0x0F, depth + 1)?;
            },
            _ => None,
        }
    }
}
