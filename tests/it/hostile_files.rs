//! Issue 17's container limits through the CLI, on both stores: hostile .xls, .ods, .parquet
//! and .xlsx files (the last at the sizes of the finding), each at most a few MiB on disk and built here, are refused naming the limit,
//! within 256 MiB of peak RSS and a few seconds; well-formed files built the same way still
//! import.

use std::path::Path;
use std::time::Duration;

use serde_json::json;

use crate::both;
use crate::common::TestDb;
use crate::hardening::{parse_measured, parse_measured_with};

/// How long a refusal may take on a loaded machine: the scans are linear in a small file.
const QUICK: Duration = Duration::from_secs(10);
const RSS_LIMIT_KIB: u64 = 256 * 1024;

/// Parses `file` through the CLI and checks it is refused as `code` with `says` in the
/// message, within the memory and time bounds.
fn refused(db: &TestDb, file: &Path, code: &str, says: &str) {
    assert!(std::fs::metadata(file).unwrap().len() < 3 * 1024 * 1024);
    let (exit, body, rss_kib, took) = parse_measured(db, file);
    assert_eq!(exit, 2, "{file:?}: {body}");
    assert_eq!(body["error"]["code"], code, "{file:?}: {body}");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains(says), "{file:?}: {message}");
    assert!(rss_kib < RSS_LIMIT_KIB, "{file:?}: {rss_kib} KiB");
    assert!(took < QUICK, "{file:?}: {took:?}");
}

/// Parses `file` through the CLI, which must find these columns and this many rows.
fn reads(db: &TestDb, file: &Path, columns: &[&str], rows: u64) {
    let (exit, body, _, _) = parse_measured(db, file);
    assert_eq!(exit, 0, "{file:?}: {body}");
    assert_eq!(body["data"]["sourceColumns"], json!(columns), "{body}");
    assert_eq!(body["data"]["totalRows"], json!(rows), "{body}");
}

// --- XLS: a compound file holding one BIFF8 workbook stream -------------------------------

const FREE: u32 = 0xFFFF_FFFF;
const END_OF_CHAIN: u32 = 0xFFFF_FFFE;
const FAT_SECTOR: u32 = 0xFFFF_FFFD;

/// One BIFF record.
fn record(typ: u16, data: &[u8]) -> Vec<u8> {
    let mut out = typ.to_le_bytes().to_vec();
    out.extend((data.len() as u16).to_le_bytes());
    out.extend(data);
    out
}

fn bof(kind: u16) -> Vec<u8> {
    let mut data = 0x0600u16.to_le_bytes().to_vec();
    data.extend(kind.to_le_bytes());
    data.extend([0; 12]);
    record(0x0809, &data)
}

fn eof() -> Vec<u8> {
    record(0x000A, &[])
}

/// A Number cell.
fn number(row: u16, col: u16, value: f64) -> Vec<u8> {
    let mut data = [row.to_le_bytes(), col.to_le_bytes(), [0, 0]].concat();
    data.extend(value.to_le_bytes());
    record(0x0203, &data)
}

/// A LabelSst cell: shared string `index`.
fn label_sst(row: u16, col: u16, index: u32) -> Vec<u8> {
    let mut data = [row.to_le_bytes(), col.to_le_bytes(), [0, 0]].concat();
    data.extend(index.to_le_bytes());
    record(0x00FD, &data)
}

/// An SST record of one-byte-per-character strings.
fn sst(strings: &[&str]) -> Vec<u8> {
    let count = (strings.len() as u32).to_le_bytes();
    let mut data = [count, count].concat();
    for s in strings {
        data.extend((s.len() as u16).to_le_bytes());
        data.push(0);
        data.extend(s.as_bytes());
    }
    record(0x00FC, &data)
}

/// A BIFF8 Dimensions record: rows `first..last` and columns `first_col..last_col` (ends
/// exclusive, as the record has them).
fn dimensions(first: u32, last: u32, first_col: u16, last_col: u16) -> Vec<u8> {
    let mut data = [first.to_le_bytes(), last.to_le_bytes()].concat();
    data.extend([first_col.to_le_bytes(), last_col.to_le_bytes(), [0, 0]].concat());
    record(0x0200, &data)
}

/// A BIFF8 workbook stream: the globals (with `globals` records, e.g. an SST) and one sheet
/// named "Data" of the `sheet` records.
fn workbook(globals: &[Vec<u8>], sheet: &[Vec<u8>]) -> Vec<u8> {
    let name = b"Data";
    let bound_sheet_len = 4 + 8 + name.len();
    let mut head = bof(0x0005);
    for r in globals {
        head.extend(r);
    }
    let sheet_at = (head.len() + bound_sheet_len + 4) as u32;
    let mut data = sheet_at.to_le_bytes().to_vec();
    data.extend([0, 0, name.len() as u8, 0]);
    data.extend(name);
    head.extend(record(0x0085, &data));
    head.extend(eof());
    assert_eq!(head.len() as u32, sheet_at);
    head.extend(bof(0x0010));
    for r in sheet {
        head.extend(r);
    }
    head.extend(eof());
    head
}

/// A compound file (512-byte sectors: the allocation table, the directory, the stream) with
/// `stream` as its Workbook stream. With `looping`, the directory's chain points to itself.
fn compound_file(path: &Path, stream: &[u8], looping: bool) {
    let mut stream = stream.to_vec();
    // Streams under 4 KiB live in the mini stream; this one is made long enough not to.
    let stream_len = stream.len().max(4096);
    stream.resize(stream_len.div_ceil(512) * 512, 0);
    let stream_sectors = stream.len() / 512;
    // 128 entries per allocation sector, which lists itself too; the header lists up to 109.
    let fat_sectors = (stream_sectors + 1).div_ceil(127);
    assert!(
        fat_sectors <= 109,
        "the header lists every allocation sector"
    );
    let dir_sector = fat_sectors as u32;
    let stream_start = dir_sector + 1;

    let mut header = vec![0u8; 512];
    header[..8].copy_from_slice(b"\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1");
    let le16 = |h: &mut Vec<u8>, at: usize, v: u16| h[at..at + 2].copy_from_slice(&v.to_le_bytes());
    let le32 = |h: &mut Vec<u8>, at: usize, v: u32| h[at..at + 4].copy_from_slice(&v.to_le_bytes());
    le16(&mut header, 24, 0x003E);
    le16(&mut header, 26, 3);
    le16(&mut header, 28, 0xFFFE);
    le16(&mut header, 30, 9);
    le16(&mut header, 32, 6);
    le32(&mut header, 44, fat_sectors as u32);
    le32(&mut header, 48, dir_sector);
    le32(&mut header, 56, 4096);
    le32(&mut header, 60, END_OF_CHAIN);
    le32(&mut header, 68, END_OF_CHAIN);
    for (i, at) in (76..512).step_by(4).enumerate() {
        le32(
            &mut header,
            at,
            if i < fat_sectors { i as u32 } else { FREE },
        );
    }

    let mut fat = vec![FREE; fat_sectors * 128];
    fat[..fat_sectors].fill(FAT_SECTOR);
    fat[dir_sector as usize] = if looping { dir_sector } else { END_OF_CHAIN };
    for i in 0..stream_sectors {
        let at = stream_start as usize + i;
        fat[at] = if i + 1 == stream_sectors {
            END_OF_CHAIN
        } else {
            at as u32 + 1
        };
    }
    let fat: Vec<u8> = fat.iter().flat_map(|v| v.to_le_bytes()).collect();

    let entry = |name: &str, kind: u8, start: u32, len: u32, child: u32| {
        let mut e = vec![0u8; 128];
        let units: Vec<u8> = name.encode_utf16().flat_map(|u| u.to_le_bytes()).collect();
        e[..units.len()].copy_from_slice(&units);
        e[64..66].copy_from_slice(&(units.len() as u16 + 2).to_le_bytes());
        e[66] = kind;
        e[67] = 1;
        e[68..72].copy_from_slice(&FREE.to_le_bytes());
        e[72..76].copy_from_slice(&FREE.to_le_bytes());
        e[76..80].copy_from_slice(&child.to_le_bytes());
        e[116..120].copy_from_slice(&start.to_le_bytes());
        e[120..124].copy_from_slice(&len.to_le_bytes());
        e
    };
    let mut directory = entry("Root Entry", 5, END_OF_CHAIN, 0, 1);
    directory.extend(entry("Workbook", 2, stream_start, stream_len as u32, FREE));
    directory.resize(512, 0);

    let file = [header, fat, directory, stream].concat();
    std::fs::write(path, file).unwrap();
}

both!(hostile_xls_files_are_refused_within_limits, hostile_xls);
/// Finding: calamine lays out an .xls sheet as the dense rectangle its cells span, reserves
/// what a Dimensions record declares, copies a shared string into every cell using it and
/// follows the compound file's sector chains wherever they lead, all while opening the file.
async fn hostile_xls(db: TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let path = |name: &str| dir.path().join(name);

    // Built the same way, a well-formed workbook reads as usual.
    let strings = sst(&["Name", "Amount", "Ada"]);
    let good = path("good.xls");
    compound_file(
        &good,
        &workbook(
            &[strings],
            &[
                dimensions(0, 2, 0, 2),
                label_sst(0, 0, 0),
                label_sst(0, 1, 1),
                label_sst(1, 0, 2),
                number(1, 1, 500.0),
            ],
        ),
        false,
    );
    reads(&db, &good, &["Name", "Amount"], 1);

    // Two cells at opposite corners of a sheet: 16.7 million slots (537 MB) from 44 bytes.
    let corners = path("corners.xls");
    compound_file(
        &corners,
        &workbook(&[], &[number(0, 0, 1.0), number(65_535, 255, 2.0)]),
        false,
    );
    refused(
        &db,
        &corners,
        "file_too_large",
        "spans 65536 by 256 cells, 16777216 cells with the sheets before it, over 2000000 \
         (the limit of cells",
    );

    // Two cells spanning the most the default allows (8,000 by 250): accepted, and the grid
    // laid out for them stays under 256 MiB; `--max-cells` lowers (or raises) the limit.
    let widest = path("widest.xls");
    compound_file(
        &widest,
        &workbook(&[], &[number(0, 0, 1.0), number(7_999, 249, 2.0)]),
        false,
    );
    let (exit, body, rss_kib, _) = parse_measured_with(&db, &widest, &[]);
    assert_eq!(exit, 0, "{body}");
    assert_eq!(body["data"]["totalRows"], json!(1), "{body}");
    assert!(rss_kib < RSS_LIMIT_KIB, "{rss_kib} KiB");
    let (exit, body, _, _) = parse_measured_with(&db, &widest, &["--max-cells", "1999999"]);
    assert_eq!(exit, 2, "{body}");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message
            .contains("2000000 cells with the sheets before it, over 1999999 (the limit of cells"),
        "{message}"
    );

    // A Dimensions record declaring 4 billion rows: calamine reserves them (an abort, not an
    // error, when the allocation fails).
    let declared = path("declared.xls");
    compound_file(
        &declared,
        &workbook(&[], &[dimensions(0, u32::MAX, 0, 256), number(0, 0, 1.0)]),
        false,
    );
    refused(
        &db,
        &declared,
        "file_too_large",
        "declares 1099511627520 cells in its dimensions, over 2000000 (the limit of cells)",
    );

    // One 8,000-character shared string in 70,000 cells: 560 MB of text from a 1 MB file.
    let long = "x".repeat(8_000);
    let mut cells = Vec::new();
    for row in 0..35_000u16 {
        cells.push(label_sst(row, 0, 0));
        cells.push(label_sst(row, 1, 0));
    }
    let copies = path("copies.xls");
    compound_file(&copies, &workbook(&[sst(&[&long])], &cells), false);
    refused(&db, &copies, "file_too_large", "(the limit of text bytes)");

    // A directory chain that loops: calamine would follow it for ever, growing a buffer.
    let looping = path("looping.xls");
    compound_file(&looping, &workbook(&[], &[number(0, 0, 1.0)]), true);
    refused(
        &db,
        &looping,
        "invalid_file",
        "a chain of its sectors loops",
    );
}

// --- ODS -----------------------------------------------------------------------------------

const CONTENT_START: &[u8] = br#"<?xml version="1.0" encoding="UTF-8"?><office:document-content xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" office:version="1.2"><office:body><office:spreadsheet><table:table table:name="Data">"#;
const CONTENT_END: &[u8] =
    b"</table:table></office:spreadsheet></office:body></office:document-content>";

/// An ODS whose one sheet holds `rows` (the XML of its `table:table-row` elements).
fn ods(path: &Path, rows: &[&[u8]]) {
    let mut content: Vec<&[u8]> = vec![CONTENT_START];
    content.extend(rows);
    content.push(CONTENT_END);
    crate::hardening::write_zip(
        path,
        &[
            ("mimetype", &[b"application/vnd.oasis.opendocument.spreadsheet".as_slice()]),
            (
                "META-INF/manifest.xml",
                &[br#"<?xml version="1.0" encoding="UTF-8"?><manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" manifest:version="1.2"><manifest:file-entry manifest:full-path="/" manifest:media-type="application/vnd.oasis.opendocument.spreadsheet"/><manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/></manifest:manifest>"#.as_slice()],
            ),
            ("content.xml", &content),
        ],
    );
}

both!(hostile_ods_files_are_refused_within_limits, hostile_ods);
/// Finding: calamine lays an ODS row out once per `number-rows-repeated` and a cell once per
/// `number-columns-repeated` (up to 100 million cells), and `<text:s text:c="N"/>` as N spaces.
async fn hostile_ods(db: TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let path = |name: &str| dir.path().join(name);
    let header = br#"<table:table-row><table:table-cell office:value-type="string"><text:p>Name</text:p></table:table-cell><table:table-cell office:value-type="string"><text:p>Amount</text:p></table:table-cell></table:table-row>"#;

    // LibreOffice's own repeats (a trailing run of empty cells and rows) read as usual.
    let good = path("good.ods");
    ods(
        &good,
        &[
            header,
            br#"<table:table-row table:number-rows-repeated="2"><table:table-cell office:value-type="string"><text:p>Ada</text:p></table:table-cell><table:table-cell office:value-type="float" office:value="500"/><table:table-cell table:number-columns-repeated="16382"/></table:table-row>"#,
            br#"<table:table-row table:number-rows-repeated="1048573"><table:table-cell table:number-columns-repeated="16384"/></table:table-row>"#,
        ],
    );
    reads(&db, &good, &["Name", "Amount"], 2);

    // A row of 16,384 numbers repeated 6,000 times: 98 million cells (3 GB) from 300 bytes,
    // under calamine's own cap of 100 million.
    let grid = path("grid.ods");
    ods(
        &grid,
        &[
            header,
            br#"<table:table-row table:number-rows-repeated="6000"><table:table-cell office:value-type="float" office:value="1" table:number-columns-repeated="16384"/></table:table-row>"#,
        ],
    );
    refused(
        &db,
        &grid,
        "file_too_large",
        "a sheet lays out 6001 rows by 16384 columns (its repeated rows and columns counted), \
         98320384 cells with the sheets before it, over 2000000 (the limit of cells)",
    );

    // One cell of 100 KB of text repeated across a row: 1.6 GB of text.
    let text = "y".repeat(100_000);
    let repeated = format!(
        r#"<table:table-row><table:table-cell office:value-type="string" table:number-columns-repeated="16384"><text:p>{text}</text:p></table:table-cell></table:table-row>"#
    );
    let copies = path("copies.ods");
    ods(&copies, &[header, repeated.as_bytes()]);
    refused(&db, &copies, "file_too_large", "(the limit of text bytes)");

    // Spaces by count: two billion of them from one tag.
    let spaces = path("spaces.ods");
    ods(
        &spaces,
        &[
            header,
            br#"<table:table-row><table:table-cell office:value-type="string"><text:p>a<text:s text:c="2000000000"/>b</text:p></table:table-cell></table:table-row>"#,
        ],
    );
    refused(
        &db,
        &spaces,
        "file_too_large",
        "a cell's text expands to over 1.9 GiB, over the limit of 1 MiB (the limit per cell)",
    );
}

// --- Parquet -------------------------------------------------------------------------------

/// A Parquet file of one Snappy-compressed string column "Name" of `rows` rows, one page.
fn parquet_file(path: &Path, rows: usize) {
    use std::sync::Arc;

    use arrow_array::{ArrayRef, RecordBatch, StringArray};
    use parquet::arrow::ArrowWriter;
    use parquet::basic::Compression;
    use parquet::file::properties::WriterProperties;

    let names: ArrayRef = Arc::new(StringArray::from_iter_values(
        (0..rows).map(|i| format!("name {i}")),
    ));
    let batch = RecordBatch::try_from_iter([("Name", names)]).unwrap();
    let properties = WriterProperties::builder()
        .set_compression(Compression::SNAPPY)
        .set_dictionary_enabled(false)
        .build();
    let mut writer = ArrowWriter::try_new(
        std::fs::File::create(path).unwrap(),
        batch.schema(),
        Some(properties),
    )
    .unwrap();
    writer.write(&batch).unwrap();
    writer.close().unwrap();
}

/// A Thrift compact varint at `at`: its value and length.
fn varint(bytes: &[u8], at: usize) -> (u64, usize) {
    let mut value = 0;
    for (i, byte) in bytes[at..].iter().enumerate() {
        value |= u64::from(byte & 0x7F) << (7 * i);
        if byte & 0x80 == 0 {
            return (value, i + 1);
        }
    }
    panic!("varint runs off the end");
}

fn varint_bytes(mut value: u64) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let byte = (value & 0x7F) as u8;
        value >>= 7;
        if value == 0 {
            out.push(byte);
            return out;
        }
        out.push(byte | 0x80);
    }
}

/// Rewrites the page header of the file's only page to declare `declared` bytes decompressed.
/// The longer header takes its room from the end of the page's data, so every offset in the
/// footer still holds.
fn declare_page_size(path: &Path, declared: i32) {
    use parquet::file::reader::FileReader;

    let file = std::fs::File::open(path).unwrap();
    let reader = parquet::file::serialized_reader::SerializedFileReader::new(file).unwrap();
    let chunk = reader.metadata().row_group(0).column(0);
    let start = chunk.data_page_offset() as usize;
    // One page and no dictionary: the chunk is the page's header and data.
    let page_end = start + chunk.compressed_size() as usize;
    drop(reader);
    let bytes = std::fs::read(path).unwrap();
    // PageHeader: field 1 (type), 2 (uncompressed size), 3 (compressed size), each an i32
    // (compact type 5, one field id after the other).
    let mut at = start;
    let mut fields = Vec::new();
    for _ in 0..3 {
        assert_eq!(bytes[at], 0x15, "an i32 field, one id on");
        let (value, len) = varint(&bytes, at + 1);
        fields.push((at + 1, value, len));
        at += 1 + len;
    }
    let zigzag = |v: i64| ((v << 1) ^ (v >> 63)) as u64;
    let (size_at, _, size_len) = fields[1];
    let (compressed_at, compressed, compressed_len) = fields[2];
    let new_size = varint_bytes(zigzag(i64::from(declared)));
    let grown = new_size.len() - size_len;
    let new_compressed = varint_bytes(zigzag((compressed >> 1) as i64 - grown as i64));
    assert_eq!(
        new_compressed.len(),
        compressed_len,
        "the compressed size keeps its length"
    );
    let patched = [
        &bytes[..size_at],
        &new_size,
        &bytes[size_at + size_len..compressed_at],
        &new_compressed,
        &bytes[compressed_at + compressed_len..page_end - grown],
        &bytes[page_end..],
    ]
    .concat();
    assert_eq!(patched.len(), bytes.len());
    std::fs::write(path, patched).unwrap();
}

both!(
    hostile_parquet_files_are_refused_within_limits,
    hostile_parquet
);
/// Finding: the Parquet reader makes room for the size a page header declares before it
/// decompresses the page (Snappy fills it with zeros), so a page of a few KiB declaring 2 GiB
/// costs 2 GiB.
async fn hostile_parquet(db: TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.parquet");
    parquet_file(&good, 1_000);
    reads(&db, &good, &["Name"], 1_000);

    let bomb = dir.path().join("bomb.parquet");
    parquet_file(&bomb, 1_000);
    declare_page_size(&bomb, i32::MAX);
    refused(
        &db,
        &bomb,
        "file_too_large",
        "column 'Name' of row group 1 has a page declaring 2.0 GiB decompressed, over 64 MiB \
         (the limit per page)",
    );
}

// --- XLSX at the sizes of the finding ------------------------------------------------------

/// A deflate bit stream, least significant bit first.
#[derive(Default)]
struct Bits {
    out: Vec<u8>,
    bit: u32,
}

impl Bits {
    fn put(&mut self, value: u32, count: u32) {
        for i in 0..count {
            if self.bit == 0 {
                self.out.push(0);
            }
            *self.out.last_mut().unwrap() |= (((value >> i) & 1) as u8) << self.bit;
            self.bit = (self.bit + 1) % 8;
        }
    }

    /// A Huffman code, most significant bit first.
    fn code(&mut self, code: u32, len: u32) {
        for i in (0..len).rev() {
            self.put((code >> i) & 1, 1);
        }
    }

    /// A literal byte in the fixed Huffman code.
    fn literal(&mut self, byte: u8) {
        match byte {
            0..=143 => self.code(0x30 + u32::from(byte), 8),
            _ => self.code(0x190 + u32::from(byte) - 144, 9),
        }
    }
}

/// A deflate stream of `prefix`, then `repeat` more bytes continuing the last `period` (at most
/// 24) bytes of `prefix` over and over, then `suffix`: the stream of a zip bomb. The repeats
/// are matches of 258 bytes in a block whose codes are one bit each (2 to 4 bits per 258 bytes,
/// deflate's best ratio); the literals are in fixed-code blocks around it.
fn deflate_repeating(prefix: &[u8], period: usize, repeat: u64, suffix: &[u8]) -> Vec<u8> {
    assert!((1..=24).contains(&period) && prefix.len() >= period);
    // Distance codes 0-8 and their extra bits: 1, 2, 3, 4, 5-6, 7-8, 9-12, 13-16, 17-24.
    let (distance_code, extra_bits, base) = match period {
        1..=4 => (period as u32 - 1, 0, period),
        5..=6 => (4, 1, 5),
        7..=8 => (5, 1, 7),
        9..=12 => (6, 2, 9),
        13..=16 => (7, 2, 13),
        _ => (8, 3, 17),
    };
    let mut bits = Bits::default();
    // Block 1, fixed codes: the prefix.
    bits.put(0, 1);
    bits.put(1, 2);
    for &byte in prefix {
        bits.literal(byte);
    }
    bits.code(0, 7);
    // Block 2, dynamic codes: end of block (256) is `0` and length 258 (285) is `1`; the one
    // distance code is `0`.
    bits.put(0, 1);
    bits.put(2, 2);
    bits.put(29, 5); // 286 literal/length codes
    bits.put(distance_code, 5); // distance codes 0..=distance_code
    bits.put(14, 4); // 18 code-length code lengths follow
    // In the order 16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1: symbol 18
    // (a run of zeros) takes 1 bit, symbols 0 and 1 take 2.
    for length in [0, 0, 1, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2] {
        bits.put(length, 3);
    }
    let zeros = |bits: &mut Bits, mut n: u32| {
        while n >= 11 {
            let run = n.min(138);
            bits.code(0, 1);
            bits.put(run - 11, 7);
            n -= run;
        }
        for _ in 0..n {
            bits.code(0b10, 2);
        }
    };
    let one = |bits: &mut Bits| bits.code(0b11, 2);
    zeros(&mut bits, 256);
    one(&mut bits); // 256
    zeros(&mut bits, 28);
    one(&mut bits); // 285
    zeros(&mut bits, distance_code);
    one(&mut bits);
    for _ in 0..repeat / 258 {
        bits.code(1, 1);
        bits.code(0, 1);
        bits.put((period - base) as u32, extra_bits);
    }
    bits.code(0, 1);
    // Block 3, fixed codes, final: the rest of the repeats and the suffix.
    bits.put(1, 1);
    bits.put(1, 2);
    let unit = &prefix[prefix.len() - period..];
    let done = repeat / 258 * 258;
    for i in 0..repeat % 258 {
        bits.literal(unit[((done + i) % period as u64) as usize]);
    }
    for &byte in suffix {
        bits.literal(byte);
    }
    bits.code(0, 7);
    bits.out
}

fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &byte in bytes {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = (crc >> 1) ^ (0xEDB8_8320 & (crc & 1).wrapping_neg());
        }
    }
    !crc
}

/// A zip of stored `parts` and, last, `name` holding the deflated `bomb` that expands to
/// `expanded` bytes. The bomb's checksum is left 0: a reader meets it only after expanding the
/// whole part, which is what a hostile file makes it do.
fn zip_with_bomb(path: &Path, parts: &[(&str, &[u8])], name: &str, bomb: &[u8], expanded: u64) {
    let mut out = Vec::new();
    let mut central = Vec::new();
    let mut entries = 0u16;
    let mut entry =
        |out: &mut Vec<u8>, name: &str, method: u16, crc: u32, data: &[u8], size: u64| {
            let offset = out.len() as u32;
            let fixed = |sig: u32| {
                let mut h = sig.to_le_bytes().to_vec();
                h.extend(20u16.to_le_bytes()); // version needed
                h
            };
            let sizes = [
                method.to_le_bytes().to_vec(),
                [0u8; 4].to_vec(), // time, date
                crc.to_le_bytes().to_vec(),
                (data.len() as u32).to_le_bytes().to_vec(),
                (size as u32).to_le_bytes().to_vec(),
                (name.len() as u16).to_le_bytes().to_vec(),
                [0u8; 2].to_vec(), // extra
            ]
            .concat();
            let mut local = fixed(0x0403_4b50);
            local.extend([0, 0]); // flags
            local.extend(&sizes);
            local.extend(name.as_bytes());
            out.extend(local);
            out.extend(data);
            let mut c = 0x0201_4b50u32.to_le_bytes().to_vec();
            c.extend(20u16.to_le_bytes()); // version made by
            c.extend(20u16.to_le_bytes());
            c.extend([0, 0]);
            c.extend(&sizes);
            c.extend([0u8; 6]); // comment length, disk, internal attributes
            c.extend([0u8; 4]); // external attributes
            c.extend(offset.to_le_bytes());
            c.extend(name.as_bytes());
            central.extend(c);
            entries += 1;
        };
    for (name, data) in parts {
        entry(&mut out, name, 0, crc32(data), data, data.len() as u64);
    }
    entry(&mut out, name, 8, 0, bomb, expanded);
    let central_at = out.len() as u32;
    out.extend(&central);
    out.extend(0x0605_4b50u32.to_le_bytes());
    out.extend([0u8; 4]);
    out.extend(entries.to_le_bytes());
    out.extend(entries.to_le_bytes());
    out.extend((central.len() as u32).to_le_bytes());
    out.extend(central_at.to_le_bytes());
    out.extend([0u8; 2]);
    std::fs::write(path, out).unwrap();
}

both!(xlsx_bombs_of_the_finding_are_refused, xlsx_bombs);
/// Finding: a 1.5 MB .xlsx expanding to one 1.5 GiB cell was refused only after 4.5 GiB of
/// RSS; a 2.1 MB one with 52 million shared strings was accepted at 1.9 GiB and 59 s.
async fn xlsx_bombs(db: TestDb) {
    use crate::hardening::{SHEET_END, SHEET_START, XLSX_PARTS};

    let dir = tempfile::tempdir().unwrap();
    let cell_start = [
        SHEET_START,
        br#"<row r="1"><c r="A1" t="inlineStr"><is><t>a"#,
    ]
    .concat();
    let cell_end = [b"</t></is></c></row>".as_slice(), SHEET_END].concat();
    let cell = dir.path().join("cell.xlsx");
    let expanded = 3 << 29; // 1.5 GiB
    let bomb = deflate_repeating(&cell_start, 1, expanded, &cell_end);
    let total = cell_start.len() as u64 + expanded + cell_end.len() as u64;
    zip_with_bomb(&cell, &XLSX_PARTS, "xl/worksheets/sheet1.xml", &bomb, total);
    refused(&db, &cell, "file_too_large", "(the limit per cell)");

    let strings = dir.path().join("strings.xlsx");
    let unit = b"<si><t>a</t></si>";
    let head = [
        br#"<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">"#.as_slice(),
        unit,
    ]
    .concat();
    let count = 52_000_000u64;
    let repeat = (count - 1) * unit.len() as u64;
    let bomb = deflate_repeating(&head, unit.len(), repeat, b"</sst>");
    let total = head.len() as u64 + repeat + 6;
    let sheet = [
        SHEET_START,
        br#"<row r="1"><c r="A1" t="s"><v>0</v></c></row>"#,
        SHEET_END,
    ]
    .concat();
    let mut parts = XLSX_PARTS.to_vec();
    parts.push(("xl/worksheets/sheet1.xml", &sheet));
    zip_with_bomb(&strings, &parts, "xl/sharedStrings.xml", &bomb, total);
    refused(
        &db,
        &strings,
        "file_too_large",
        "over 1000000 shared strings (the limit of shared strings)",
    );
}
