//! What a path is before a source reads it: a regular file whose first bytes fit its extension.
//!
//! In: a path and the [`FileType`] its extension names. Out: the file's size, or an error the
//! user can act on. Guarantees: directories, FIFOs, sockets and devices are refused from their
//! metadata, before anything opens them (opening a FIFO waits for a writer; a device may never
//! end); a file whose first bytes are those of another format (a gzip or zip archive, a PDF, an
//! image, a workbook of another kind) is refused naming what it is, instead of being read as
//! garbage.

use std::io::Read;
use std::path::Path;

use super::{FileType, source_error};
use crate::Result;

/// Formats recognised by their first bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Magic {
    Gzip,
    Zip,
    /// The compound file of Microsoft Office's binary formats (XLS, DOC, MSG).
    Ole,
    Parquet,
    Bzip2,
    Xz,
    Zstd,
    SevenZip,
    Pdf,
    Png,
    Jpeg,
}

impl Magic {
    const SIGNATURES: &[(&[u8], Magic)] = &[
        (b"\x1f\x8b", Magic::Gzip),
        (b"PK\x03\x04", Magic::Zip),
        (b"PK\x05\x06", Magic::Zip),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", Magic::Ole),
        (b"PAR1", Magic::Parquet),
        (b"BZh", Magic::Bzip2),
        (b"\xfd7zXZ\x00", Magic::Xz),
        (b"\x28\xb5\x2f\xfd", Magic::Zstd),
        (b"7z\xbc\xaf\x27\x1c", Magic::SevenZip),
        (b"%PDF-", Magic::Pdf),
        (b"\x89PNG\r\n\x1a\n", Magic::Png),
        (b"\xff\xd8\xff", Magic::Jpeg),
    ];

    fn of(prefix: &[u8]) -> Option<Magic> {
        Self::SIGNATURES
            .iter()
            .find(|(signature, _)| prefix.starts_with(signature))
            .map(|(_, magic)| *magic)
    }

    /// What the file is, and what to do about it.
    fn describe(self) -> (&'static str, &'static str) {
        const DECOMPRESS: &str = ": decompress it first";
        match self {
            Magic::Gzip => ("a gzip file", DECOMPRESS),
            Magic::Zip => (
                "a zip archive (an XLSX or ODS workbook, or zipped files)",
                "",
            ),
            Magic::Ole => ("an Office binary file (an XLS workbook, say)", ""),
            Magic::Parquet => ("a Parquet file", ""),
            Magic::Bzip2 => ("a bzip2 file", DECOMPRESS),
            Magic::Xz => ("an xz file", DECOMPRESS),
            Magic::Zstd => ("a zstd file", DECOMPRESS),
            Magic::SevenZip => ("a 7-Zip archive", ": extract it first"),
            Magic::Pdf => ("a PDF document", ""),
            Magic::Png => ("a PNG image", ""),
            Magic::Jpeg => ("a JPEG image", ""),
        }
    }

    /// Whether a file of `file_type` may start like this.
    fn fits(self, file_type: FileType) -> bool {
        match file_type {
            FileType::Xlsx | FileType::Ods => self == Magic::Zip,
            FileType::Xls => self == Magic::Ole,
            FileType::Parquet => self == Magic::Parquet,
            FileType::Csv => false,
        }
    }
}

/// Checks that `path` is a regular file whose first bytes fit `file_type`; returns its size.
pub(super) fn check(path: &Path, file_type: FileType) -> Result<u64> {
    let metadata = std::fs::metadata(path)
        .map_err(|e| source_error(path, format!("cannot read the file: {e}")))?;
    if !metadata.is_file() {
        return Err(source_error(
            path,
            format!(
                "this is {}, not a file: give the path of a file",
                what_it_is(&metadata)
            ),
        ));
    }
    let mut prefix = [0u8; 8];
    let mut file = std::fs::File::open(path)
        .map_err(|e| source_error(path, format!("cannot read the file: {e}")))?;
    let mut len = 0;
    while len < prefix.len() {
        match file.read(&mut prefix[len..]) {
            Ok(0) => break,
            Ok(n) => len += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(source_error(path, format!("cannot read the file: {e}"))),
        }
    }
    if let Some(magic) = Magic::of(&prefix[..len])
        && !magic.fits(file_type)
    {
        let (what, hint) = magic.describe();
        let expected = file_type.as_str().to_ascii_uppercase();
        return Err(source_error(
            path,
            format!("this is {what}, not {expected}{hint}"),
        ));
    }
    Ok(metadata.len())
}

#[cfg(unix)]
fn what_it_is(metadata: &std::fs::Metadata) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    let kind = metadata.file_type();
    if kind.is_dir() {
        "a directory"
    } else if kind.is_fifo() {
        "a FIFO (named pipe)"
    } else if kind.is_socket() {
        "a socket"
    } else if kind.is_block_device() || kind.is_char_device() {
        "a device"
    } else {
        "not a regular file"
    }
}

#[cfg(not(unix))]
fn what_it_is(metadata: &std::fs::Metadata) -> &'static str {
    if metadata.is_dir() {
        "a directory"
    } else {
        "not a regular file"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures() {
        assert_eq!(Magic::of(b"\x1f\x8b\x08\x00"), Some(Magic::Gzip));
        assert_eq!(Magic::of(b"PK\x03\x04rest"), Some(Magic::Zip));
        assert_eq!(Magic::of(b"Name,Email"), None);
        assert!(Magic::Zip.fits(FileType::Xlsx));
        assert!(!Magic::Zip.fits(FileType::Csv));
        assert!(!Magic::Gzip.fits(FileType::Parquet));
    }
}
