//! A guarded pre-scan of a zipped workbook (XLSX, ODS) before calamine opens it.
//!
//! In: the path of a zip container and the [`SourceLimits`]. Out: `Ok` or [`Error::TooLarge`]
//! naming the limit passed. Guarantees: every part is decompressed as a stream with a byte
//! budget (the sizes the zip declares are not trusted), so a zip bomb costs the scan at most
//! `max_uncompressed_bytes` of decompression and a 64 KiB buffer of memory; the XML is scanned
//! as it streams for what calamine would hold at once: the shared strings (count and bytes),
//! the cells, and the longest run of text (one cell's raw size). calamine reads the shared
//! strings whole when it opens a workbook and a cell's text whole when it reads the cell, so
//! these are refused here, before it allocates. An ODS's `content.xml` is also read by
//! `ods_guard` as it streams, for its repeated rows and columns.

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;

use super::{SourceLimits, human_bytes};
use crate::{Error, Result};

/// The part of an XLSX that holds its shared strings.
const SHARED_STRINGS_PART: &str = "xl/sharedStrings.xml";
/// A cell's text in XML is at most this many times its decoded size (entities like `&#x10FFFF;`
/// take up to 10 bytes for 4 decoded): a raw run past it holds a cell over the limit.
const RAW_BYTES_PER_CELL_BYTE: usize = 10;

/// The part of an ODS that holds its sheets.
const ODS_CONTENT_PART: &str = "content.xml";

/// Scans the zip at `path`; `file` names it in errors.
pub(super) fn check(path: &Path, file: &str, limits: &SourceLimits) -> Result<()> {
    let opened = File::open(path).map_err(|e| super::io_error(path, e))?;
    // An archive zip cannot read is left to calamine, whose error says what is wrong with it.
    let Ok(mut archive) = zip::ZipArchive::new(BufReader::new(opened)) else {
        return Ok(());
    };
    let mut totals = Totals {
        file,
        limits,
        budget: limits.max_uncompressed_bytes,
        cells: 0,
    };
    for index in 0..archive.len() {
        let Ok(entry) = archive.by_index(index) else {
            return Ok(());
        };
        let name = entry.name().map(|n| n.into_owned()).unwrap_or_default();
        let mut part = Metered {
            inner: entry,
            shared_strings: name == SHARED_STRINGS_PART,
            name: &name,
            totals: &mut totals,
            scan: XmlScan::default(),
            part_bytes: 0,
            refused: None,
        };
        let scanned = if name == ODS_CONTENT_PART {
            super::ods_guard::check(BufReader::with_capacity(64 * 1024, &mut part), file, limits)
        } else {
            part.drain();
            Ok(())
        };
        // A limit the bytes passed comes first: the XML reader stops on it as on a read error.
        if let Some(refused) = part.refused.take() {
            return Err(refused);
        }
        scanned?;
        let cells = part.scan.cells;
        totals.cells += cells;
    }
    Ok(())
}

/// What all parts have used so far.
struct Totals<'a> {
    file: &'a str,
    limits: &'a SourceLimits,
    /// Uncompressed bytes left.
    budget: u64,
    cells: u64,
}

impl Totals<'_> {
    fn too_large(&self, message: String) -> Error {
        Error::TooLarge {
            file: self.file.to_string(),
            message,
        }
    }
}

/// A part being decompressed, checked against the limits as its bytes pass: whoever reads it
/// (a plain drain, or the ODS scan's XML reader) gets an error once a limit is passed, and
/// `refused` says which.
struct Metered<'a, 't, R> {
    inner: R,
    name: &'a str,
    shared_strings: bool,
    totals: &'a mut Totals<'t>,
    scan: XmlScan,
    part_bytes: u64,
    refused: Option<Error>,
}

impl<R: Read> Metered<'_, '_, R> {
    /// Reads the part to its end (or to a limit, or to damage calamine will report).
    fn drain(&mut self) {
        let mut buffer = vec![0u8; 64 * 1024];
        loop {
            match self.read(&mut buffer) {
                Ok(0) => break,
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(_) => break,
            }
        }
    }

    fn account(&mut self, bytes: &[u8]) -> Result<()> {
        let totals = &mut *self.totals;
        let limits = totals.limits;
        let max_run = limits
            .max_cell_bytes
            .saturating_mul(RAW_BYTES_PER_CELL_BYTE);
        self.part_bytes += bytes.len() as u64;
        totals.budget = match totals.budget.checked_sub(bytes.len() as u64) {
            Some(left) => left,
            None => {
                return Err(totals.too_large(format!(
                    "the workbook's parts expand to over {} (the limit of uncompressed bytes); \
                     it may be a zip bomb",
                    human_bytes(limits.max_uncompressed_bytes)
                )));
            }
        };
        self.scan.feed(bytes);
        if self.scan.longest() > max_run as u64 {
            return Err(totals.too_large(format!(
                "part {} holds over {} of XML in one cell or tag, more than a cell of at most {} \
                 can take (the limit per cell)",
                self.name,
                human_bytes(max_run as u64),
                human_bytes(limits.max_cell_bytes as u64)
            )));
        }
        if self.shared_strings {
            if self.scan.shared_strings > limits.max_shared_strings {
                return Err(totals.too_large(format!(
                    "the workbook has over {} shared strings (the limit of shared strings)",
                    limits.max_shared_strings
                )));
            }
            if self.part_bytes > limits.max_shared_strings_bytes {
                return Err(totals.too_large(format!(
                    "the workbook's shared strings take over {} (the limit of shared-string \
                     bytes)",
                    human_bytes(limits.max_shared_strings_bytes)
                )));
            }
        }
        if totals.cells + self.scan.cells > limits.max_cells {
            return Err(totals.too_large(format!(
                "the workbook has over {} cells (the limit of cells)",
                limits.max_cells
            )));
        }
        Ok(())
    }
}

impl<R: Read> Read for Metered<'_, '_, R> {
    fn read(&mut self, buffer: &mut [u8]) -> std::io::Result<usize> {
        if self.refused.is_some() {
            return Err(std::io::Error::other("over a limit"));
        }
        let n = self.inner.read(buffer)?;
        if let Err(refused) = self.account(&buffer[..n]) {
            self.refused = Some(refused);
            return Err(std::io::Error::other("over a limit"));
        }
        Ok(n)
    }
}

/// What the scan counts in a part's XML, fed in pieces of any size.
#[derive(Debug, Default)]
struct XmlScan {
    /// Inside a tag, its name so far (at most a few bytes are kept).
    tag: Option<TagName>,
    /// Bytes since the last `<`.
    run: u64,
    longest_run: u64,
    /// `<c>` (XLSX) and `<table:table-cell>` (ODS) elements.
    cells: u64,
    /// `<si>` elements.
    shared_strings: u64,
}

#[derive(Debug, Default)]
struct TagName {
    bytes: [u8; 16],
    len: usize,
    /// Longer than `bytes` holds: no tag counted has such a name.
    overflow: bool,
    done: bool,
}

impl XmlScan {
    fn feed(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            // A run is everything between two tags' starts: a cell's text, or one tag with its
            // attributes (which the XML reader also holds whole).
            if byte == b'<' {
                self.longest_run = self.longest_run.max(self.run);
                self.run = 0;
            } else {
                self.run += 1;
            }
            match &mut self.tag {
                None if byte == b'<' => self.tag = Some(TagName::default()),
                None => {}
                Some(tag) => {
                    if byte == b'>' {
                        let tag = self.tag.take().unwrap_or_default();
                        self.count(&tag);
                        continue;
                    }
                    if tag.done {
                        continue;
                    }
                    if byte.is_ascii_whitespace() || byte == b'/' {
                        tag.done = true;
                        let tag = std::mem::take(tag);
                        self.count(&tag);
                        // Still inside the tag: its attributes follow; counted once.
                        self.tag = Some(TagName {
                            done: true,
                            overflow: true,
                            ..TagName::default()
                        });
                    } else if tag.len < tag.bytes.len() {
                        tag.bytes[tag.len] = byte;
                        tag.len += 1;
                    } else {
                        tag.overflow = true;
                    }
                }
            }
        }
    }

    /// The longest run so far, the current one included.
    fn longest(&self) -> u64 {
        self.longest_run.max(self.run)
    }

    fn count(&mut self, tag: &TagName) {
        if tag.overflow {
            return;
        }
        match &tag.bytes[..tag.len] {
            b"c" | b"table:table-cell" => self.cells += 1,
            b"si" => self.shared_strings += 1,
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_across_pieces() {
        let xml = b"<sst><si><t>a</t></si><si><t>bb</t></si></sst><row><c r=\"A1\"><v>1</v></c>\
                    <c r=\"B1\"/><table:table-cell office:value-type=\"string\"/><cx/></row>";
        for piece in [1, 2, 3, 7, xml.len()] {
            let mut scan = XmlScan::default();
            for chunk in xml.chunks(piece) {
                scan.feed(chunk);
            }
            assert_eq!(scan.shared_strings, 2, "pieces of {piece}");
            assert_eq!(scan.cells, 3, "pieces of {piece}");
            // `<table:table-cell office:value-type="string"/>` less its `<`.
            assert_eq!(scan.longest(), 45, "pieces of {piece}");
        }
    }
}
