//! Text input shared by the text formats: which encoding a file is in, and a `Read` that turns
//! it into UTF-8 chunk by chunk, so a parser that wants UTF-8 never holds more than a buffer.

use std::io::{self, Read};

use chardetng::{EncodingDetector, Iso2022JpDetection, Utf8Detection};
use encoding_rs::{Decoder, DecoderResult, Encoding, UTF_8, UTF_16BE, UTF_16LE};

use crate::{Error, Result};

/// How much of the file encoding (and the CSV delimiter) detection look at.
pub(super) const PREFIX_BYTES: usize = 64 * 1024;
/// How much of the prefix the UTF-16-without-BOM check looks at.
const UTF16_SNIFF_BYTES: usize = 1024;
/// The size of each of the decoder's buffers, and of the csv reader's.
pub(super) const BUFFER_BYTES: usize = 64 * 1024;

/// The encoding a caller's label names, and the length of a BOM to skip.
pub(super) fn forced_encoding(label: &str, prefix: &[u8]) -> Result<(&'static Encoding, usize)> {
    let Some(encoding) = Encoding::for_label(label.trim().as_bytes()) else {
        return Err(Error::invalid_field(
            "encoding",
            format!("unknown encoding '{label}'"),
            Some(label.into()),
        ));
    };
    // A BOM of the chosen encoding is not data; any other BOM is, since the caller insists.
    let bom_len = match Encoding::for_bom(prefix) {
        Some((bom_encoding, len)) if bom_encoding == encoding => len,
        _ => 0,
    };
    Ok((encoding, bom_len))
}

/// The encoding of a file from its first bytes, and the length of its BOM. `whole_file` says
/// whether `prefix` is the entire file (so a truncated character at its end is an error, not a
/// cut).
pub(super) fn detect_encoding(prefix: &[u8], whole_file: bool) -> (&'static Encoding, usize) {
    if let Some(found) = Encoding::for_bom(prefix) {
        return found;
    }
    if let Some(utf16) = utf16_without_bom(&prefix[..prefix.len().min(UTF16_SNIFF_BYTES)]) {
        return (utf16, 0);
    }
    match std::str::from_utf8(prefix) {
        Ok(_) => return (UTF_8, 0),
        // `error_len() == None`: the bytes end inside a character, which is what cutting the
        // prefix at 64 KiB does to valid UTF-8.
        Err(e) if e.error_len().is_none() && !whole_file => return (UTF_8, 0),
        Err(_) => {}
    }
    let mut detector = EncodingDetector::new(Iso2022JpDetection::Deny);
    detector.feed(prefix, whole_file);
    // WHATWG maps the ISO-8859-1 labels to windows-1252, so Latin-1 files report that name.
    (detector.guess(None, Utf8Detection::Deny), 0)
}

/// UTF-16 without a BOM: text that is mostly ASCII has a NUL in every other byte, in the odd
/// positions for little-endian and the even ones for big-endian. Demanding that the other
/// positions have (almost) no NULs keeps binary junk out.
fn utf16_without_bom(sample: &[u8]) -> Option<&'static Encoding> {
    let pairs = sample.len() / 2;
    if pairs < 2 {
        return None;
    }
    let (mut even, mut odd) = (0, 0);
    for pair in sample.chunks_exact(2) {
        even += usize::from(pair[0] == 0);
        odd += usize::from(pair[1] == 0);
    }
    let enough = pairs.div_ceil(4);
    if odd >= enough && even * 10 <= odd {
        Some(UTF_16LE)
    } else if even >= enough && odd * 10 <= even {
        Some(UTF_16BE)
    } else {
        None
    }
}

/// Reads until `buf` is full or the input ends; returns the bytes read.
pub(super) fn read_full(input: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match input.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

/// Bytes that are not valid in the file's encoding, at an offset of the file.
#[derive(Debug)]
pub(super) struct MalformedInput {
    offset: u64,
    encoding: &'static str,
}

impl std::fmt::Display for MalformedInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "the bytes at offset {} are not valid {}",
            self.offset, self.encoding
        )
    }
}

impl std::error::Error for MalformedInput {}

/// A record that went on past its byte budget.
#[derive(Debug)]
pub(super) struct RecordTooLong {
    pub(super) budget: u64,
}

impl std::fmt::Display for RecordTooLong {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "a record is over {} bytes", self.budget)
    }
}

impl std::error::Error for RecordTooLong {}

/// A `Read` that yields UTF-8: decodes the inner reader chunk by chunk with `encoding_rs`, or
/// passes it through when it already is UTF-8 (checked per record by the source, which can name
/// the row). Malformed input is an error, not a U+FFFD: silently changing data is worse than
/// asking for the right encoding.
///
/// It also tells the source whether the input has ended (which says whether a record was ended
/// by a line break or by the end of the file), and stops a record that goes on past its byte
/// budget: the csv reader only asks for more input once it has consumed all it was given, so
/// bytes produced since the record started are bytes of that record.
pub(super) struct Utf8Input<R> {
    inner: R,
    decoder: Option<Decoder>,
    line_ends: Option<LineEnds>,
    raw: Box<[u8]>,
    raw_pos: usize,
    raw_len: usize,
    raw_eof: bool,
    /// Bytes of the file consumed so far (starting after the BOM), for error offsets.
    raw_consumed: u64,
    out: Box<[u8]>,
    out_pos: usize,
    out_len: usize,
    decoder_done: bool,
    /// Reported after the output decoded before the malformed bytes has been read.
    pending_error: Option<io::Error>,
    produced: u64,
    pub(super) eof: bool,
    record_start: u64,
    record_budget: u64,
}

impl<R: Read> Utf8Input<R> {
    pub(super) fn new(
        inner: R,
        decoder: Option<Decoder>,
        line_ends: Option<LineEnds>,
        start_offset: u64,
    ) -> Self {
        let buffer = |size| vec![0; size].into_boxed_slice();
        let size = if decoder.is_some() { BUFFER_BYTES } else { 0 };
        Utf8Input {
            inner,
            decoder,
            line_ends,
            raw: buffer(size),
            raw_pos: 0,
            raw_len: 0,
            raw_eof: false,
            raw_consumed: start_offset,
            out: buffer(size),
            out_pos: 0,
            out_len: 0,
            decoder_done: false,
            pending_error: None,
            produced: 0,
            eof: false,
            record_start: 0,
            record_budget: u64::MAX,
        }
    }

    /// The csv reader is about to read a record starting at byte `start` of the output.
    pub(super) fn start_record(&mut self, start: u64, budget: u64) {
        self.record_start = start;
        self.record_budget = budget;
    }

    /// Decodes the next piece of input into `out`; leaves `out` empty at the end of the input.
    fn fill(&mut self) -> io::Result<()> {
        self.out_pos = 0;
        self.out_len = 0;
        if let Some(err) = self.pending_error.take() {
            return Err(err);
        }
        let Some(decoder) = self.decoder.as_mut() else {
            return Ok(());
        };
        while !self.decoder_done {
            if self.raw_pos == self.raw_len && !self.raw_eof {
                self.raw_len = read_some(&mut self.inner, &mut self.raw)?;
                self.raw_pos = 0;
                self.raw_eof = self.raw_len == 0;
            }
            let (result, read, written) = decoder.decode_to_utf8_without_replacement(
                &self.raw[self.raw_pos..self.raw_len],
                &mut self.out,
                self.raw_eof,
            );
            self.raw_pos += read;
            self.raw_consumed += read as u64;
            self.out_len = written;
            match result {
                DecoderResult::InputEmpty => {
                    // With `last` set, InputEmpty means the decoder has flushed everything and
                    // must not be called again.
                    self.decoder_done = self.raw_eof;
                    if written > 0 {
                        return Ok(());
                    }
                }
                DecoderResult::OutputFull => return Ok(()),
                DecoderResult::Malformed(bad, after) => {
                    let err = io::Error::new(
                        io::ErrorKind::InvalidData,
                        MalformedInput {
                            offset: self.raw_consumed - u64::from(bad) - u64::from(after),
                            encoding: decoder.encoding().name(),
                        },
                    );
                    if written == 0 {
                        return Err(err);
                    }
                    self.pending_error = Some(err);
                    return Ok(());
                }
            }
        }
        Ok(())
    }
}

impl<R: Read> Read for Utf8Input<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        if self.produced - self.record_start > self.record_budget {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                RecordTooLong {
                    budget: self.record_budget,
                },
            ));
        }
        let n = loop {
            let n = if self.decoder.is_none() {
                read_some(&mut self.inner, buf)?
            } else {
                if self.out_pos == self.out_len {
                    self.fill()?;
                }
                let n = buf.len().min(self.out_len - self.out_pos);
                buf[..n].copy_from_slice(&self.out[self.out_pos..self.out_pos + n]);
                self.out_pos += n;
                n
            };
            let kept = match &mut self.line_ends {
                Some(line_ends) => line_ends.normalise(&mut buf[..n]),
                None => n,
            };
            // A read whose only byte was the LF of a CRLF must not look like the end.
            if kept > 0 || n == 0 {
                break kept;
            }
        };
        self.produced += n as u64;
        self.eof = n == 0;
        Ok(n)
    }
}

/// Where a CSV parse stands, as far as line breaks care: inside a quoted cell a line break is
/// data; outside one it ends the row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CsvState {
    FieldStart,
    Unquoted,
    Quoted,
    /// A quote inside a quoted cell: it closes the cell, or a second one follows (`""`).
    QuoteInQuoted,
}

/// Line breaks as Python's csv module and spreadsheets read them: outside quoted cells a CR, an
/// LF and a CRLF each end a row, mixed freely in one file; inside quoted cells they are data and
/// stay as they are. The csv reader is given a single LF for each row end (it is told only LF
/// ends a record, which keeps its line count a row count). The state follows `csv_core`'s
/// (quotes open a cell only at its start; `""` inside one is a quote), so it agrees with the
/// reader on where the quoted cells are.
#[derive(Debug)]
pub(super) struct LineEnds {
    delimiter: u8,
    state: CsvState,
    /// The last byte was a row-ending CR: an LF right after it belongs to it.
    after_cr: bool,
}

impl LineEnds {
    pub(super) fn new(delimiter: u8) -> LineEnds {
        LineEnds {
            delimiter,
            state: CsvState::FieldStart,
            after_cr: false,
        }
    }

    /// Rewrites `buf` in place; returns how many bytes of it are kept.
    fn normalise(&mut self, buf: &mut [u8]) -> usize {
        let mut kept = 0;
        for i in 0..buf.len() {
            let byte = buf[i];
            if std::mem::take(&mut self.after_cr) && byte == b'\n' {
                continue;
            }
            let out = match self.state {
                CsvState::Quoted => {
                    if byte == b'"' {
                        self.state = CsvState::QuoteInQuoted;
                    }
                    byte
                }
                _ if byte == b'\r' || byte == b'\n' => {
                    self.state = CsvState::FieldStart;
                    self.after_cr = byte == b'\r';
                    b'\n'
                }
                CsvState::FieldStart | CsvState::QuoteInQuoted if byte == b'"' => {
                    self.state = CsvState::Quoted;
                    byte
                }
                _ if byte == self.delimiter => {
                    self.state = CsvState::FieldStart;
                    byte
                }
                _ => {
                    self.state = CsvState::Unquoted;
                    byte
                }
            };
            buf[kept] = out;
            kept += 1;
        }
        kept
    }
}

fn read_some(input: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    loop {
        match input.read(buf) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            other => return other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utf16le(text: &str, bom: bool) -> Vec<u8> {
        let mut bytes = if bom { vec![0xFF, 0xFE] } else { Vec::new() };
        bytes.extend(text.encode_utf16().flat_map(u16::to_le_bytes));
        bytes
    }

    #[test]
    fn encoding_from_bom() {
        assert_eq!(detect_encoding(b"\xEF\xBB\xBFa,b\n", true), (UTF_8, 3));
        assert_eq!(detect_encoding(b"\xFF\xFEa\0", true), (UTF_16LE, 2));
        assert_eq!(detect_encoding(b"\xFE\xFF\0a", true), (UTF_16BE, 2));
    }

    #[test]
    fn utf16_without_bom_from_nul_pattern() {
        let le = utf16le("name,email\nJosé,j@x.io\n", false);
        assert_eq!(detect_encoding(&le, true), (UTF_16LE, 0));
        let be: Vec<u8> = "name,email\n"
            .encode_utf16()
            .flat_map(u16::to_be_bytes)
            .collect();
        assert_eq!(detect_encoding(&be, true), (UTF_16BE, 0));
        // One stray NUL is not UTF-16.
        assert_eq!(detect_encoding(b"name,email\n\0a,b\n", true).0, UTF_8);
    }

    #[test]
    fn utf8_cut_inside_a_character_at_the_prefix_end_is_still_utf8() {
        let mut prefix = "a,b\n".repeat(10).into_bytes();
        prefix.extend_from_slice(&"é".as_bytes()[..1]);
        assert_eq!(detect_encoding(&prefix, false), (UTF_8, 0));
        // The same bytes as a whole file end with a broken character: not UTF-8.
        assert_ne!(detect_encoding(&prefix, true).0, UTF_8);
    }

    #[test]
    fn ascii_is_utf8_and_latin1_is_windows_1252() {
        assert_eq!(detect_encoding(b"a,b\n1,2\n", true).0, UTF_8);
        let latin1 = b"name;city\nJos\xe9 M\xfcller;K\xf6ln\nFran\xe7oise;Orl\xe9ans\n";
        assert_eq!(detect_encoding(latin1, true).0.name(), "windows-1252");
    }

    /// A reader that hands out one byte at a time, to test the adapter's buffer edges.
    struct Trickle<'a>(&'a [u8]);

    impl Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let Some((&first, rest)) = self.0.split_first() else {
                return Ok(0);
            };
            buf[0] = first;
            self.0 = rest;
            Ok(1)
        }
    }

    #[test]
    fn decoding_with_tiny_reads_and_buffers() {
        let text = "Zoë,😀,Łódź\n".repeat(3000);
        let bytes = utf16le(&text, false);
        let mut input = Utf8Input::new(
            Trickle(&bytes),
            Some(UTF_16LE.new_decoder_without_bom_handling()),
            None,
            0,
        );
        let mut out = Vec::new();
        let mut buf = [0u8; 3];
        loop {
            let n = input.read(&mut buf).unwrap();
            if n == 0 {
                break;
            }
            out.extend_from_slice(&buf[..n]);
        }
        assert_eq!(String::from_utf8(out).unwrap(), text);
        assert_eq!(input.produced, text.len() as u64);
        assert!(input.eof);
    }
}
