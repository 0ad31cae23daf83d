//! A bounded pre-scan of an .xls workbook before calamine opens it.
//!
//! In: the path of an .xls (a compound file holding a BIFF workbook stream) and the
//! [`SourceLimits`]. Out: `Ok`, [`Error::TooLarge`] naming the limit passed, or
//! [`Error::Source`] for a structure that cannot be read within the file. Guarantees: it walks
//! the file the way calamine 0.38 will, counting instead of allocating, so what calamine would
//! hold is known before it holds it:
//! - the compound file: sector chains that loop (calamine follows them until a declared length,
//!   which may be 4 GiB or unbounded), and allocation tables listed more often than the file
//!   has sectors (calamine copies each listing);
//! - the workbook's shared strings (count and bytes), which calamine holds whole;
//! - every sheet's dense range: calamine lays out the bounding box of a sheet's cells (and of
//!   its formulas) as one grid, and reserves what a `Dimensions` record declares, so two cells
//!   at opposite corners of a sheet cost 16 million slots whatever the file's size;
//! - the text those cells hold (a shared string is copied into every cell that uses it).
//!
//! Memory is the file's size at most (the workbook stream and its allocation table, as
//! calamine holds them too); time is linear in the records scanned, which are bounded by
//! `max_uncompressed_bytes` (sheets may overlap, and calamine reads each from its start).
//! Anything calamine would refuse on its own (a bad signature, a record past the stream's end)
//! ends the scan with `Ok`: calamine then says what is wrong, before it allocates a grid.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::Path;

use super::{SourceLimits, human_bytes, io_error, source_error};
use crate::{Error, Result};

const ENDOFCHAIN: u32 = 0xFFFF_FFFE;
/// Sector ids from here on are markers, not sectors.
const RESERVED_SECTORS: u32 = 0xFFFF_FFFA;
const DIFSECT: u32 = 0xFFFF_FFFC;
/// calamine reads streams shorter than this from the mini stream, in 64-byte sectors.
const MINI_STREAM_CUTOFF: usize = 4096;
const MINI_SECTOR: usize = 64;
/// BIFF record types (MS-XLS 2.4).
const CONTINUE: u16 = 0x003C;
const EOF: u16 = 0x000A;
const BOF: u16 = 0x0809;
const BOUND_SHEET: u16 = 0x0085;
const SST: u16 = 0x00FC;
const DIMENSIONS: u16 = 0x0200;
const FORMULA: u16 = 0x0006;
const FORMULA_STRING: u16 = 0x0207;
const LABEL_SST: u16 = 0x00FD;
const MUL_RK: u16 = 0x00BD;
/// Records that hold one cell: Number, Label, RString, BoolErr, Rk.
const ONE_CELL: [u16; 5] = [0x0203, 0x0204, 0x00D6, 0x0205, 0x027E];
/// UTF-8 bytes per byte of BIFF text, at most (a code-page byte or half a UTF-16 unit).
const UTF8_PER_TEXT_BYTE: u64 = 3;

/// Scans the .xls at `path`; `file` names it in errors.
pub(super) fn check(path: &Path, file: &str, limits: &SourceLimits) -> Result<()> {
    let opened = File::open(path).map_err(|e| io_error(path, e))?;
    let len = opened.metadata().map_err(|e| io_error(path, e))?.len();
    let compound = Compound {
        file: &opened,
        path,
        len,
    };
    let Some(stream) = compound.workbook_stream()? else {
        return Ok(());
    };
    Biff {
        file,
        limits,
        stream: &stream,
    }
    .check()
}

/// The compound file, read as calamine's `Cfb` reads it.
struct Compound<'f> {
    file: &'f File,
    path: &'f Path,
    len: u64,
}

/// calamine's sectors: `size` bytes each, the first after a header of one sector, ids up to
/// `max_id`; a sector cut short by the end of the file is read short.
#[derive(Clone, Copy)]
struct Sectors {
    size: usize,
    max_id: u32,
}

/// A chain walk's end: the bytes, or `None` where calamine would stop with an error.
type Walk = Option<Vec<u8>>;

impl Compound<'_> {
    fn damaged(&self, what: &str) -> Error {
        source_error(
            self.path,
            format!("the file cannot be read as an XLS workbook: {what}; it is damaged"),
        )
    }

    fn read_at(&self, offset: u64, len: usize) -> Result<Vec<u8>> {
        let mut buffer = vec![0u8; len];
        let mut filled = 0;
        while filled < len {
            match self
                .file
                .read_at(&mut buffer[filled..], offset + filled as u64)
            {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(io_error(self.path, e)),
            }
        }
        buffer.truncate(filled);
        Ok(buffer)
    }

    fn sector(&self, sectors: Sectors, id: u32) -> Result<Option<Vec<u8>>> {
        if id > sectors.max_id {
            return Ok(None);
        }
        let offset = (u64::from(id) + 1) * sectors.size as u64;
        self.read_at(offset, sectors.size).map(Some)
    }

    /// The bytes of the chain from `start` up to `len`, as calamine's `get_chain` copies them.
    /// A chain that would copy more than the file holds loops: calamine would follow it to
    /// `len`, which a damaged directory may declare as anything.
    fn chain(&self, sectors: Sectors, start: u32, fats: &[u32], len: usize) -> Result<Walk> {
        let most = self.len as usize + sectors.size;
        follow(start, fats, len, most, |id| self.sector(sectors, id)).map_err(|e| match e {
            Followed::Loops => self.damaged("a chain of its sectors loops"),
            Followed::Failed(e) => e,
        })
    }

    /// The `Workbook` (or `Book`) stream, or `None` where calamine would fail first.
    fn workbook_stream(&self) -> Result<Walk> {
        let header = self.read_at(0, 512)?;
        if header.len() < 512 || header[..8] != *b"\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1" {
            return Ok(None);
        }
        let size = match u16_at(&header, 30) {
            0x0009 => 512,
            0x000C => 4096,
            _ => return Ok(None),
        };
        if u16_at(&header, 32) != 0x0006 {
            return Ok(None);
        }
        let version = u16_at(&header, 26);
        let dir_start = u32_at(&header, 48);
        let mini_fat_start = u32_at(&header, 60);
        let mini_fat_len = u32_at(&header, 64) as usize;
        let mut difat_start = u32_at(&header, 68);
        let mut difat: Vec<u32> = header[76..512].chunks(4).map(|c| u32_at(c, 0)).collect();
        let sectors = Sectors {
            size,
            max_id: (self.len / size as u64).min(u64::from(u32::MAX)) as u32,
        };

        let mut difat_sectors = 0u64;
        while difat_start < RESERVED_SECTORS {
            difat_sectors += 1;
            if difat_sectors > u64::from(sectors.max_id) + 1 {
                return Ok(None);
            }
            let Some(sector) = self.sector(sectors, difat_start)? else {
                return Ok(None);
            };
            difat.extend(sector.chunks_exact(4).map(|c| u32_at(c, 0)));
            let Some(next) = difat.pop() else {
                return Ok(None);
            };
            difat_start = next;
        }
        // Each listed allocation sector is copied, listed twice or not.
        let fat_sectors = difat.iter().filter(|id| **id < DIFSECT).count() as u64;
        if fat_sectors.saturating_mul(size as u64) > self.len + size as u64 {
            return Err(self.damaged(&format!(
                "it lists {fat_sectors} allocation sectors, more than the file has"
            )));
        }
        let mut fats = Vec::new();
        for id in difat.into_iter().filter(|id| *id < DIFSECT) {
            let Some(sector) = self.sector(sectors, id)? else {
                return Ok(None);
            };
            fats.extend(sector.chunks_exact(4).map(|c| u32_at(c, 0)));
        }

        let Some(dirs) = self.chain(sectors, dir_start, &fats, usize::MAX)? else {
            return Ok(None);
        };
        let dirs: Vec<Directory> = dirs
            .chunks_exact(128)
            .map(|entry| Directory::parse(entry, size))
            .collect();
        if dirs.is_empty() || (version != 3 && dirs[0].start == ENDOFCHAIN) {
            return Ok(None);
        }
        let (mini_fats, mini_stream) = if mini_fat_len > 0 {
            let Some(mini_stream) = self.chain(sectors, dirs[0].start, &fats, dirs[0].len)? else {
                return Ok(None);
            };
            let Some(mini_fat) = self.chain(
                sectors,
                mini_fat_start,
                &fats,
                mini_fat_len.saturating_mul(size),
            )?
            else {
                return Ok(None);
            };
            let mini_fats: Vec<u32> = mini_fat.chunks_exact(4).map(|c| u32_at(c, 0)).collect();
            (mini_fats, mini_stream)
        } else {
            (Vec::new(), Vec::new())
        };

        let found = |name: &str| {
            dirs.iter()
                .find(|d| d.name.as_bytes().eq_ignore_ascii_case(name.as_bytes()))
        };
        let Some(workbook) = found("Workbook").or_else(|| found("Book")) else {
            return Ok(None);
        };
        if workbook.len >= MINI_STREAM_CUTOFF {
            return self.chain(sectors, workbook.start, &fats, workbook.len);
        }
        self.mini_chain(&mini_stream, &mini_fats, workbook.start, workbook.len)
    }

    /// A short stream from the mini stream. calamine reads a mini sector past the mini
    /// stream's end from wherever the file reader happens to be; no real file does that, and
    /// what it would read cannot be scanned here, so it is refused.
    fn mini_chain(&self, mini: &[u8], mini_fats: &[u32], start: u32, len: usize) -> Result<Walk> {
        let sector = |id: u32| {
            let from = id as usize * MINI_SECTOR;
            match mini.get(from..from + MINI_SECTOR) {
                Some(sector) => Ok(Some(sector.to_vec())),
                None => Err(self.damaged("its workbook stream points past the mini stream")),
            }
        };
        // `len` is under 4 KiB here, so a loop copies no more than that.
        follow(start, mini_fats, len, usize::MAX, sector).map_err(|e| match e {
            Followed::Loops => self.damaged("a chain of its mini sectors loops"),
            Followed::Failed(e) => e,
        })
    }
}

/// Why [`follow`] stopped short.
enum Followed {
    /// The chain would copy more than it may: it loops.
    Loops,
    Failed(Error),
}

/// Follows a chain of sectors from `start` through `table` and copies up to `len` bytes of
/// them, as calamine's `get_chain` does; `sector` reads one (`None` where calamine fails). A
/// chain copying over `most` bytes loops.
fn follow(
    start: u32,
    table: &[u32],
    len: usize,
    most: usize,
    mut sector: impl FnMut(u32) -> Result<Option<Vec<u8>>>,
) -> std::result::Result<Walk, Followed> {
    let mut chain = Vec::new();
    let mut id = start;
    while id != ENDOFCHAIN {
        let Some(bytes) = sector(id).map_err(Followed::Failed)? else {
            return Ok(None);
        };
        let take = bytes.len().min(len - chain.len());
        if chain.len() + take > most {
            return Err(Followed::Loops);
        }
        chain.extend_from_slice(&bytes[..take]);
        if chain.len() >= len {
            break;
        }
        // calamine indexes without a check (a panic it reports as a damaged file).
        let Some(&next) = table.get(id as usize) else {
            return Ok(None);
        };
        id = next;
    }
    Ok(Some(chain))
}

struct Directory {
    name: String,
    start: u32,
    len: usize,
}

impl Directory {
    fn parse(entry: &[u8], sector_size: usize) -> Directory {
        let units: Vec<u16> = entry[..64].chunks(2).map(|c| u16_at(c, 0)).collect();
        let mut name = String::from_utf16_lossy(&units);
        if let Some(end) = name.find('\0') {
            name.truncate(end);
        }
        let len = if sector_size == 512 {
            u32_at(entry, 120) as usize
        } else {
            usize::try_from(u64_at(entry, 120)).unwrap_or(usize::MAX)
        };
        Directory {
            name,
            start: u32_at(entry, 116),
            len,
        }
    }
}

/// One BIFF record with the CONTINUE records after it, as calamine's `RecordIter` joins them.
struct Record<'a> {
    typ: u16,
    data: &'a [u8],
    more: Vec<&'a [u8]>,
}

struct Records<'a> {
    stream: &'a [u8],
}

impl<'a> Records<'a> {
    /// The next record; `Some(None)` where calamine stops with an error.
    fn next_record(&mut self) -> Option<Option<Record<'a>>> {
        if self.stream.len() < 4 {
            return if self.stream.is_empty() {
                None
            } else {
                Some(None)
            };
        }
        let typ = u16_at(self.stream, 0);
        let len = u16_at(self.stream, 2) as usize;
        if self.stream.len() < len + 4 {
            return Some(None);
        }
        let (record, rest) = self.stream.split_at(len + 4);
        self.stream = rest;
        let mut more = Vec::new();
        while self.stream.len() > 4 && u16_at(self.stream, 0) == CONTINUE {
            let len = u16_at(self.stream, 2) as usize;
            if self.stream.len() < len + 4 {
                return Some(None);
            }
            let (part, rest) = self.stream.split_at(len + 4);
            more.push(&part[4..]);
            self.stream = rest;
        }
        Some(Some(Record {
            typ,
            data: &record[4..],
            more,
        }))
    }
}

/// The bounding box of a sheet's cells, which calamine's dense range spans.
#[derive(Default)]
struct Extent {
    rows: Option<(u32, u32)>,
    cols: Option<(u32, u32)>,
}

impl Extent {
    fn add(&mut self, row: u32, col: u32) {
        let widen = |span: Option<(u32, u32)>, at: u32| {
            Some(span.map_or((at, at), |(low, high)| (low.min(at), high.max(at))))
        };
        self.rows = widen(self.rows, row);
        self.cols = widen(self.cols, col);
    }

    fn area(&self) -> u64 {
        match (self.rows, self.cols) {
            (Some((top, bottom)), Some((left, right))) => {
                u64::from(bottom - top + 1) * u64::from(right - left + 1)
            }
            _ => 0,
        }
    }
}

struct Biff<'a> {
    file: &'a str,
    limits: &'a SourceLimits,
    stream: &'a [u8],
}

/// What the sheets hold so far, across sheets.
#[derive(Default)]
struct Held {
    /// Slots of the dense ranges (values and formulas).
    slots: u64,
    /// Cells calamine collects before laying them out.
    cells: u64,
    text_bytes: u64,
    scanned_bytes: u64,
}

impl Biff<'_> {
    fn too_large(&self, message: String) -> Error {
        Error::TooLarge {
            file: self.file.to_string(),
            message,
        }
    }

    fn check(&self) -> Result<()> {
        let Some((sheets, shared)) = self.globals()? else {
            return Ok(());
        };
        let mut held = Held::default();
        for (index, (position, name)) in sheets.iter().enumerate() {
            let name = name
                .clone()
                .unwrap_or_else(|| format!("sheet {}", index + 1));
            // calamine slices the stream at the position without a check (a panic it reports
            // as a damaged file).
            let Some(records) = self.stream.get(*position..) else {
                return Ok(());
            };
            if !self.sheet(records, &name, &shared, &mut held)? {
                return Ok(());
            }
        }
        Ok(())
    }

    /// The sheets' positions and names and the UTF-8 size of each shared string, or `None`
    /// where calamine would stop with an error.
    #[allow(clippy::type_complexity)]
    fn globals(&self) -> Result<Option<(Vec<(usize, Option<String>)>, Vec<u64>)>> {
        let mut records = Records {
            stream: self.stream,
        };
        let mut sheets = Vec::new();
        let mut shared = Vec::new();
        while let Some(record) = records.next_record() {
            let Some(record) = record else {
                return Ok(None);
            };
            match record.typ {
                BOUND_SHEET => {
                    if record.data.len() < 6 {
                        return Ok(None);
                    }
                    sheets.push((u32_at(record.data, 0) as usize, sheet_name(record.data)));
                }
                SST => match self.shared_strings(record)? {
                    Some(sizes) => shared = sizes,
                    None => return Ok(None),
                },
                EOF => break,
                _ => {}
            }
        }
        Ok(Some((sheets, shared)))
    }

    /// The UTF-8 size of each string of an SST record, as calamine's `parse_sst` reads them.
    fn shared_strings(&self, record: Record<'_>) -> Result<Option<Vec<u64>>> {
        let bytes =
            record.data.len() as u64 + record.more.iter().map(|p| p.len() as u64).sum::<u64>();
        if bytes > self.limits.max_shared_strings_bytes {
            return Err(self.too_large(format!(
                "the workbook's shared strings take over {} (the limit of shared-string bytes)",
                human_bytes(self.limits.max_shared_strings_bytes)
            )));
        }
        if record.data.len() < 8 {
            return Ok(None);
        }
        let mut reader = Continued {
            data: &record.data[8..],
            more: record.more.into_iter(),
        };
        let mut sizes = Vec::new();
        while !reader.data.is_empty() || reader.next_part() {
            let Some(size) = reader.rich_string() else {
                return Ok(None);
            };
            sizes.push(size);
            if sizes.len() as u64 > self.limits.max_shared_strings {
                return Err(self.too_large(format!(
                    "the workbook has over {} shared strings (the limit of shared strings)",
                    self.limits.max_shared_strings
                )));
            }
        }
        Ok(Some(sizes))
    }

    /// Scans one sheet's records as calamine does, adding to `held`; `false` where calamine
    /// would stop with an error.
    fn sheet(&self, stream: &[u8], name: &str, shared: &[u64], held: &mut Held) -> Result<bool> {
        let limits = self.limits;
        let mut records = Records { stream };
        let mut values = Extent::default();
        let mut formulas = Extent::default();
        let mut formula_at = (0u32, 0u32);
        let mut seen_bof = false;
        let mut depth = 0usize;
        let mut before = stream.len();
        while let Some(record) = records.next_record() {
            held.scanned_bytes += (before - records.stream.len()) as u64;
            before = records.stream.len();
            if held.scanned_bytes > limits.max_uncompressed_bytes {
                return Err(self.too_large(format!(
                    "reading its sheets goes through over {} of records (the limit of \
                     uncompressed bytes)",
                    human_bytes(limits.max_uncompressed_bytes)
                )));
            }
            let Some(record) = record else {
                return Ok(false);
            };
            let data = record.data;
            if depth > 0 {
                match record.typ {
                    BOF => depth += 1,
                    EOF => depth -= 1,
                    _ => {}
                }
                continue;
            }
            let mut cell = |row: u32, col: u32, text: u64| {
                values.add(row, col);
                held.cells += 1;
                held.text_bytes += text;
            };
            match record.typ {
                BOF if seen_bof => depth += 1,
                BOF => seen_bof = true,
                EOF => break,
                DIMENSIONS => {
                    let Some(declared) = dimensions(data) else {
                        return Ok(false);
                    };
                    if declared > limits.max_cells {
                        return Err(self.too_large(format!(
                            "sheet '{name}' declares {declared} cells in its dimensions, over \
                             {} (the limit of cells)",
                            limits.max_cells
                        )));
                    }
                }
                typ if ONE_CELL.contains(&typ) => {
                    if data.len() < 4 {
                        return Ok(false);
                    }
                    let text = if matches!(typ, 0x0204 | 0x00D6) {
                        data.len() as u64 * UTF8_PER_TEXT_BYTE
                    } else {
                        0
                    };
                    cell(u16_at(data, 0).into(), u16_at(data, 2).into(), text);
                }
                LABEL_SST => {
                    if data.len() < 10 {
                        return Ok(false);
                    }
                    if let Some(&size) = shared.get(u32_at(data, 6) as usize) {
                        cell(u16_at(data, 0).into(), u16_at(data, 2).into(), size);
                    }
                }
                MUL_RK => {
                    if data.len() < 6 {
                        return Ok(false);
                    }
                    let (row, first) = (u16_at(data, 0), u16_at(data, 2));
                    let last = u16_at(data, data.len() - 2);
                    let Some(span) = last.checked_sub(first) else {
                        return Ok(false);
                    };
                    let count = usize::from(span) + 1;
                    if data.len() != 6 + 6 * count {
                        return Ok(false);
                    }
                    // The cells are `first..first + count`; the last one's column is `last`.
                    cell(row.into(), first.into(), 0);
                    cell(row.into(), last.into(), 0);
                    held.cells -= 2;
                    held.cells += count as u64;
                }
                FORMULA => {
                    if data.len() < 20 {
                        return Ok(false);
                    }
                    formula_at = (u16_at(data, 0).into(), u16_at(data, 2).into());
                    // Its value (when not a string, which a FORMULA_STRING record brings).
                    cell(formula_at.0, formula_at.1, 0);
                    formulas.add(formula_at.0, formula_at.1);
                    held.cells += 1;
                }
                FORMULA_STRING => {
                    let text = data.len() as u64 * UTF8_PER_TEXT_BYTE;
                    cell(formula_at.0, formula_at.1, text);
                }
                _ => {}
            }
            if held.cells > limits.max_cells {
                return Err(self.too_large(format!(
                    "the workbook has over {} cells (the limit of cells)",
                    limits.max_cells
                )));
            }
            if held.text_bytes > limits.max_text_bytes {
                return Err(self.too_large(format!(
                    "the workbook's cells hold over {} of text, shared strings counted in every \
                     cell that uses them (the limit of text bytes)",
                    human_bytes(limits.max_text_bytes)
                )));
            }
        }
        held.slots += values.area() + formulas.area();
        if held.slots > limits.max_cells {
            return Err(self.too_large(format!(
                "sheet '{name}' spans {} by {} cells, {} cells with the sheets before it, over {} \
                 (the limit of cells; a sheet is read as the whole rectangle its cells span)",
                values
                    .rows
                    .map_or(0, |(top, bottom)| u64::from(bottom - top) + 1),
                values.cols.map_or(0, |(l, r)| u64::from(r - l) + 1),
                held.slots,
                limits.max_cells
            )));
        }
        Ok(true)
    }
}

/// The cells a `Dimensions` record makes calamine reserve, computed as calamine does (in a
/// release build its row count wraps when the last row is before the first); `None` for a
/// record calamine refuses.
fn dimensions(data: &[u8]) -> Option<u64> {
    let (first_row, last_row, mut first_col, last_col) = match data.len() {
        10 => (
            u32::from(u16_at(data, 0)),
            u32::from(u16_at(data, 2)),
            u32::from(u16_at(data, 4)),
            u32::from(u16_at(data, 6)),
        ),
        14 | 16 => (
            u32_at(data, 0),
            u32_at(data, 4),
            u32::from(u16_at(data, 8)),
            u32::from(u16_at(data, 10)),
        ),
        _ => return None,
    };
    if first_col > 0xFF || last_col < first_col {
        first_col = 0;
    }
    if last_row == 0 || last_col == 0 {
        return Some(1);
    }
    let rows = (last_row - 1).wrapping_sub(first_row).wrapping_add(1);
    let cols = (last_col - 1).wrapping_sub(first_col).wrapping_add(1);
    Some(u64::from(rows) * u64::from(cols))
}

/// A BoundSheet8 record's sheet name, read as BIFF8 writes it; for messages only.
fn sheet_name(data: &[u8]) -> Option<String> {
    let len = usize::from(*data.get(6)?);
    let flags = *data.get(7)?;
    let text = data.get(8..)?;
    let name = if flags & 1 == 0 {
        text.get(..len)?.iter().map(|&b| char::from(b)).collect()
    } else {
        let units: Vec<u16> = text
            .get(..2 * len)?
            .chunks(2)
            .map(|c| u16_at(c, 0))
            .collect();
        String::from_utf16_lossy(&units)
    };
    Some(name)
}

/// A record's data and its CONTINUE parts, read across their boundaries as calamine does.
struct Continued<'a> {
    data: &'a [u8],
    more: std::vec::IntoIter<&'a [u8]>,
}

impl Continued<'_> {
    fn next_part(&mut self) -> bool {
        match self.more.next() {
            Some(part) => {
                self.data = part;
                true
            }
            None => false,
        }
    }

    fn take(&mut self, n: usize) -> Option<&[u8]> {
        let (head, rest) = (self.data.get(..n)?, self.data.get(n..)?);
        self.data = rest;
        Some(head)
    }

    fn skip(&mut self, mut n: usize) -> Option<()> {
        while n > 0 {
            if self.data.is_empty() && !self.next_part() {
                return None;
            }
            let step = n.min(self.data.len());
            self.data = &self.data[step..];
            n -= step;
        }
        Some(())
    }

    /// One XLUnicodeRichExtendedString (MS-XLS 2.5.293): the most UTF-8 bytes it decodes to,
    /// or `None` where calamine's `read_rich_extended_string` fails.
    fn rich_string(&mut self) -> Option<u64> {
        if self.data.is_empty() {
            return Some(0);
        }
        let head = self.take(3)?;
        let (mut chars, flags) = (usize::from(u16_at(head, 0)), head[2]);
        let runs = if flags & 0x8 != 0 {
            usize::from(u16_at(self.take(2)?, 0))
        } else {
            0
        };
        let extra = if flags & 0x4 != 0 {
            i32::from_le_bytes(self.take(4)?.try_into().ok()?) as usize
        } else {
            0
        };
        let mut wide = flags & 0x1 != 0;
        let mut size = 0u64;
        while chars > 0 {
            let n = if wide {
                chars.min(self.data.len() / 2)
            } else {
                chars.min(self.data.len())
            };
            let bytes = self.take(if wide { 2 * n } else { n })?;
            size += text_size(bytes, wide);
            chars -= n;
            if chars > 0 {
                if !self.next_part() {
                    return None;
                }
                wide = self.take(1)?[0] & 0x1 != 0;
            }
        }
        self.skip(runs * 4)?;
        self.skip(extra)?;
        Some(size)
    }
}

/// The most UTF-8 bytes BIFF text decodes to: ASCII stays one byte, anything else is at most
/// three per code-page byte or UTF-16 unit.
fn text_size(bytes: &[u8], wide: bool) -> u64 {
    if wide {
        bytes
            .chunks(2)
            .map(|unit| match u16_at(unit, 0) {
                0..0x80 => 1,
                0x80..0x800 => 2,
                _ => 3,
            })
            .sum()
    } else {
        bytes
            .iter()
            .map(|&b| if b < 0x80 { 1 } else { UTF8_PER_TEXT_BYTE })
            .sum()
    }
}

fn u16_at(bytes: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([bytes[at], bytes[at + 1]])
}

fn u32_at(bytes: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]])
}

fn u64_at(bytes: &[u8], at: usize) -> u64 {
    u64::from(u32_at(bytes, at)) | (u64::from(u32_at(bytes, at + 4)) << 32)
}
