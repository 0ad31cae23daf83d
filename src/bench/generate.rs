//! A deterministic generator of contacts files for benchmarks and large-file tests.
//!
//! The same seed and row count give byte-identical output on every machine and every release:
//! the random numbers come from SplitMix64, written out here (a dozen lines) rather than taken
//! from a crate whose algorithms may change between versions, which would change the files and
//! make old benchmark figures incomparable. Values look like a CRM export: names, emails (with a
//! chosen share of duplicates, some differing only in letter case), phones in several formats,
//! companies, titles, amounts, statuses, dates, and notes with commas, quotes and line breaks.

use std::io::Write;
use std::path::Path;

use crate::error::{Error, Result};

/// What to generate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GenerateOptions {
    pub rows: u64,
    pub seed: u64,
    /// Share of rows whose email repeats an earlier row's (half of them in other letter case).
    pub duplicate_rate: f64,
    /// Share of rows with one invalid value (email, phone, date or amount).
    pub invalid_rate: f64,
    /// For an "update" file: rows `0..rows` reuse the emails of the file generated with
    /// `update_of` as seed for every other row, so half the rows match an earlier import.
    pub update_of: Option<u64>,
}

impl Default for GenerateOptions {
    fn default() -> Self {
        GenerateOptions {
            rows: 1_000,
            seed: 42,
            duplicate_rate: 0.02,
            invalid_rate: 0.01,
            update_of: None,
        }
    }
}

/// The header of generated files; the sample module `contacts` maps every column.
pub const COLUMNS: [&str; 13] = [
    "First Name",
    "Last Name",
    "Email",
    "Mobile Phone",
    "Company",
    "Job Title",
    "Deal Value",
    "Status",
    "Last Contacted",
    "City",
    "Country",
    "Website",
    "Notes",
];

struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn chance(&mut self, p: f64) -> bool {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64 <= p && p > 0.0
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len() as u64) as usize]
    }
}

const FIRST: [&str; 24] = [
    "Ada", "Grace", "Alan", "Linus", "Margaret", "Dennis", "Barbara", "Ken", "Frances", "John",
    "Hedy", "Tim", "Radia", "Guido", "Sophie", "Anders", "Élodie", "Jürgen", "Zoë", "Øyvind",
    "María", "Chloé", "Björn", "Nikolaj",
];
const LAST: [&str; 24] = [
    "Lovelace",
    "Hopper",
    "Turing",
    "Torvalds",
    "Hamilton",
    "Ritchie",
    "Liskov",
    "Thompson",
    "Allen",
    "McCarthy",
    "Lamarr",
    "Berners-Lee",
    "Perlman",
    "van Rossum",
    "Wilson",
    "Hejlsberg",
    "Dupont",
    "Müller",
    "O'Brien",
    "Nygård",
    "García",
    "Lefèvre",
    "Andersson",
    "Petersen",
];
const COMPANIES: [&str; 12] = [
    "Acme Corporation",
    "Globex GmbH",
    "Initech",
    "Umbrella Ltd",
    "Stark Industries",
    "Wayne Enterprises",
    "Hooli",
    "Pied Piper",
    "Soylent Corp",
    "Tyrell Corp",
    "Cyberdyne",
    "Wonka Industries",
];
const DOMAINS: [&str; 8] = [
    "acme.com",
    "globex.de",
    "initech.fr",
    "umbrella.io",
    "example.org",
    "hooli.com",
    "piedpiper.net",
    "tyrell.co.uk",
];
const TITLES: [&str; 8] = [
    "CEO",
    "CTO",
    "VP of Sales",
    "Account Executive",
    "Engineer",
    "Head of Marketing",
    "Office Manager",
    "Buyer",
];
const STATUSES: [&str; 4] = ["lead", "active", "customer", "churned"];
const CITIES: [(&str, &str); 8] = [
    ("New York", "United States"),
    ("München", "Germany"),
    ("Paris", "France"),
    ("London", "United Kingdom"),
    ("São Paulo", "Brazil"),
    ("Zürich", "Switzerland"),
    ("Oslo", "Norway"),
    ("Madrid", "Spain"),
];
const NOTES: [&str; 6] = [
    "",
    "Met at the trade show, wants a demo",
    "Prefers email, not phone",
    "Said \"call me next quarter\", budget pending",
    "Two offices: HQ and a branch\nFollow up with both",
    "",
];

fn email_for(index: u64, seed: u64) -> String {
    let mut rng = SplitMix64(seed ^ index.wrapping_mul(0x2545_F491_4F6C_DD1D));
    // Local parts stay ASCII: most mail systems still refuse internationalised addresses.
    let ascii = |name: &str| -> String {
        name.to_lowercase()
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .collect()
    };
    let first = ascii(rng.pick(&FIRST));
    let last = ascii(rng.pick(&LAST));
    let domain = rng.pick(&DOMAINS);
    format!("{first}.{last}.{index}@{domain}")
}

/// The file formats the generator writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputFormat {
    Csv,
    Xlsx,
    Parquet,
}

impl OutputFormat {
    /// `csv`, `xlsx` or `parquet` (any letter case).
    pub fn parse(text: &str) -> Result<OutputFormat> {
        match text.to_ascii_lowercase().as_str() {
            "csv" => Ok(OutputFormat::Csv),
            "xlsx" => Ok(OutputFormat::Xlsx),
            "parquet" => Ok(OutputFormat::Parquet),
            other => Err(Error::invalid_field(
                "format",
                format!("'{other}' is not a generated format: use csv, xlsx or parquet"),
                None,
            )),
        }
    }

    /// The format named by a file's extension; `None` when the extension names none of them.
    pub fn from_path(path: &Path) -> Option<OutputFormat> {
        let extension = path.extension()?.to_str()?;
        OutputFormat::parse(extension).ok()
    }

    pub fn extension(self) -> &'static str {
        match self {
            OutputFormat::Csv => "csv",
            OutputFormat::Xlsx => "xlsx",
            OutputFormat::Parquet => "parquet",
        }
    }
}

/// The generated rows, one `[String; 13]` (in [`COLUMNS`] order) at a time. Every output format
/// writes this same sequence, so a CSV, an XLSX and a Parquet file of one seed hold the same
/// cells.
pub struct Rows {
    options: GenerateOptions,
    rng: SplitMix64,
    index: u64,
}

impl Rows {
    pub fn new(options: &GenerateOptions) -> Rows {
        Rows {
            options: *options,
            rng: SplitMix64(options.seed),
            index: 0,
        }
    }
}

impl Iterator for Rows {
    type Item = [String; 13];

    fn next(&mut self) -> Option<[String; 13]> {
        if self.index >= self.options.rows {
            return None;
        }
        let index = self.index;
        self.index += 1;
        let options = &self.options;
        let rng = &mut self.rng;
        let first = rng.pick(&FIRST);
        let last = rng.pick(&LAST);
        let email = match options.update_of {
            Some(base_seed) if index.is_multiple_of(2) => email_for(index, base_seed),
            _ if index > 0 && rng.chance(options.duplicate_rate) => {
                let earlier = email_for(rng.below(index), options.seed);
                if rng.chance(0.5) {
                    earlier.to_uppercase()
                } else {
                    earlier
                }
            }
            Some(_) => email_for(index, options.seed ^ 0xA5A5),
            None => email_for(index, options.seed),
        };
        let (city, country) = CITIES[rng.below(CITIES.len() as u64) as usize];
        let phone = match rng.below(3) {
            0 => format!("+1 (212) 555-{:04}", rng.below(10_000)),
            1 => format!("+49 89 {:07}", rng.below(10_000_000)),
            _ => format!(
                "+33 1 {:02} {:02} {:02} {:02}",
                rng.below(100),
                rng.below(100),
                rng.below(100),
                rng.below(100)
            ),
        };
        let amount = format!("{}.{:02}", rng.below(250_000), rng.below(100));
        let date = format!(
            "20{:02}-{:02}-{:02}",
            20 + rng.below(6),
            1 + rng.below(12),
            1 + rng.below(28)
        );
        let mut cells = [
            first.to_string(),
            last.to_string(),
            email,
            phone,
            rng.pick(&COMPANIES).to_string(),
            rng.pick(&TITLES).to_string(),
            amount,
            rng.pick(&STATUSES).to_string(),
            date,
            city.to_string(),
            country.to_string(),
            format!("https://www.{}", rng.pick(&DOMAINS)),
            rng.pick(&NOTES).to_string(),
        ];
        if rng.chance(options.invalid_rate) {
            match rng.below(4) {
                0 => cells[2] = cells[2].replace('@', " at "),
                1 => cells[3] = "call me".into(),
                2 => cells[8] = "2024-13-45".into(),
                _ => cells[6] = "lots".into(),
            }
        }
        Some(cells)
    }
}

/// Writes the file as CSV (UTF-8, comma, RFC 4180 quoting).
pub fn write_csv(out: impl Write, options: &GenerateOptions) -> Result<()> {
    let mut writer = csv::WriterBuilder::new().from_writer(out);
    let io = |e: csv::Error| Error::Io {
        path: "generated csv".into(),
        source: std::io::Error::other(e),
    };
    writer.write_record(COLUMNS).map_err(io)?;
    for row in Rows::new(options) {
        writer.write_record(&row).map_err(io)?;
    }
    writer.flush().map_err(|e| Error::Io {
        path: "generated csv".into(),
        source: e,
    })
}

/// Column of the deal value: written as a number cell in XLSX when it is one (as a CRM export
/// would), as text when it is one of the invalid values.
const DEAL_VALUE_COLUMN: usize = 6;

/// Writes the file as an XLSX workbook with one sheet, in rust_xlsxwriter's constant-memory mode
/// (rows are flushed to a temporary file as they are written, so memory does not grow with N).
///
/// The workbook's creation time is fixed and the ZIP entries carry no timestamps, so the same
/// options give the same cells and, with the same rust_xlsxwriter version, the same bytes.
pub fn write_xlsx(out: impl Write + Send, options: &GenerateOptions) -> Result<()> {
    let xlsx_error = |e: rust_xlsxwriter::XlsxError| Error::Io {
        path: "generated xlsx".into(),
        source: std::io::Error::other(e),
    };
    let mut workbook = rust_xlsxwriter::Workbook::new();
    let created = rust_xlsxwriter::ExcelDateTime::from_ymd(2024, 1, 1).map_err(xlsx_error)?;
    workbook.set_properties(&rust_xlsxwriter::DocProperties::new().set_creation_datetime(&created));
    let sheet = workbook
        .add_worksheet_with_constant_memory()
        .map_err(xlsx_error)?;
    sheet.set_name("Contacts").map_err(xlsx_error)?;
    for (column, name) in COLUMNS.iter().enumerate() {
        sheet
            .write_string(0, column as u16, *name)
            .map_err(xlsx_error)?;
    }
    for (index, row) in Rows::new(options).enumerate() {
        // Excel's sheet limit is 1,048,576 rows; the row type says so before the writer does.
        let sheet_row = u32::try_from(index + 1)
            .map_err(|_| Error::validation("an XLSX sheet holds at most 1,048,575 data rows"))?;
        for (column, cell) in row.iter().enumerate() {
            let number = (column == DEAL_VALUE_COLUMN)
                .then(|| cell.parse::<f64>().ok())
                .flatten();
            match number {
                Some(number) => sheet.write_number(sheet_row, column as u16, number),
                None if cell.is_empty() => continue,
                None => sheet.write_string(sheet_row, column as u16, cell),
            }
            .map_err(xlsx_error)?;
        }
    }
    workbook.save_to_writer(out).map_err(xlsx_error)
}

/// Rows per Arrow batch and Parquet row group of generated files.
const PARQUET_BATCH_ROWS: usize = 64 * 1024;

/// Writes the file as Parquet: one UTF-8 column per CSV column (the cells are the CSV's text,
/// invalid values included), zstd, row groups of 65,536 rows. Parquet writers record no time,
/// so the same options give the same bytes.
pub fn write_parquet(out: impl Write + Send, options: &GenerateOptions) -> Result<()> {
    use arrow_array::builder::StringBuilder;
    use arrow_array::{ArrayRef, RecordBatch};
    use arrow_schema::{DataType, Field, Schema};
    use parquet::arrow::ArrowWriter;
    use parquet::basic::{Compression, ZstdLevel};
    use parquet::file::properties::WriterProperties;

    let parquet_error = |e: parquet::errors::ParquetError| Error::Io {
        path: "generated parquet".into(),
        source: std::io::Error::other(e),
    };
    let schema = std::sync::Arc::new(Schema::new(
        COLUMNS
            .iter()
            .map(|name| Field::new(*name, DataType::Utf8, false))
            .collect::<Vec<_>>(),
    ));
    let properties = WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::default()))
        .set_max_row_group_row_count(Some(PARQUET_BATCH_ROWS))
        .build();
    let mut writer =
        ArrowWriter::try_new(out, schema.clone(), Some(properties)).map_err(parquet_error)?;
    let mut rows = Rows::new(options).peekable();
    while rows.peek().is_some() {
        let mut builders: Vec<StringBuilder> =
            COLUMNS.iter().map(|_| StringBuilder::new()).collect();
        for row in rows.by_ref().take(PARQUET_BATCH_ROWS) {
            for (builder, cell) in builders.iter_mut().zip(&row) {
                builder.append_value(cell);
            }
        }
        let arrays: Vec<ArrayRef> = builders
            .iter_mut()
            .map(|b| std::sync::Arc::new(b.finish()) as ArrayRef)
            .collect();
        let batch = RecordBatch::try_new(schema.clone(), arrays).map_err(|e| Error::Io {
            path: "generated parquet".into(),
            source: std::io::Error::other(e),
        })?;
        writer.write(&batch).map_err(parquet_error)?;
    }
    writer.close().map_err(parquet_error)?;
    Ok(())
}

/// Writes the generated file in `format` to `path` (buffered).
pub fn write_file(path: &Path, format: OutputFormat, options: &GenerateOptions) -> Result<()> {
    let io = |e| Error::Io {
        path: path.display().to_string(),
        source: e,
    };
    let file = std::fs::File::create(path).map_err(io)?;
    let mut buffered = std::io::BufWriter::with_capacity(1 << 20, file);
    match format {
        OutputFormat::Csv => write_csv(&mut buffered, options)?,
        OutputFormat::Xlsx => write_xlsx(&mut buffered, options)?,
        OutputFormat::Parquet => write_parquet(&mut buffered, options)?,
    }
    buffered.flush().map_err(io)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn generate(options: &GenerateOptions) -> Vec<u8> {
        let mut out = Vec::new();
        write_csv(&mut out, options).unwrap();
        out
    }

    #[test]
    fn same_seed_same_bytes_other_seed_other_bytes() {
        let options = GenerateOptions {
            rows: 500,
            ..GenerateOptions::default()
        };
        assert_eq!(generate(&options), generate(&options));
        let other = GenerateOptions { seed: 7, ..options };
        assert_ne!(generate(&options), generate(&other));
    }

    fn read_back(path: &Path) -> (Vec<String>, Vec<Vec<String>>) {
        let mut source =
            crate::import::source::open(path, &crate::import::SourceOptions::default()).unwrap();
        let columns = source.columns().to_vec();
        let mut rows = Vec::new();
        loop {
            let chunk = source.next_chunk(1_000).unwrap();
            if chunk.is_empty() {
                return (columns, rows);
            }
            rows.extend(chunk.into_iter().map(|r| r.cells));
        }
    }

    /// Parquet: the same bytes every run, and the cells of the CSV (read back by the import's
    /// own source).
    #[test]
    fn parquet_same_bytes_and_same_cells_as_csv() {
        let options = GenerateOptions {
            rows: 700,
            invalid_rate: 0.1,
            ..GenerateOptions::default()
        };
        let dir = tempfile::tempdir().unwrap();
        let first = dir.path().join("a.parquet");
        let second = dir.path().join("b.parquet");
        write_file(&first, OutputFormat::Parquet, &options).unwrap();
        write_file(&second, OutputFormat::Parquet, &options).unwrap();
        assert_eq!(
            std::fs::read(&first).unwrap(),
            std::fs::read(&second).unwrap()
        );
        let (columns, rows) = read_back(&first);
        assert_eq!(columns, COLUMNS);
        let expected: Vec<Vec<String>> = Rows::new(&options).map(Vec::from).collect();
        assert_eq!(rows, expected);
    }

    /// XLSX: the same cells every run (deal values as number cells, which read back without
    /// trailing zeros), and the same bytes with a fixed creation time.
    #[test]
    fn xlsx_same_cells_as_csv_and_same_bytes() {
        let options = GenerateOptions {
            rows: 300,
            invalid_rate: 0.2,
            ..GenerateOptions::default()
        };
        let dir = tempfile::tempdir().unwrap();
        let first = dir.path().join("a.xlsx");
        let second = dir.path().join("b.xlsx");
        write_file(&first, OutputFormat::Xlsx, &options).unwrap();
        write_file(&second, OutputFormat::Xlsx, &options).unwrap();
        assert_eq!(
            std::fs::read(&first).unwrap(),
            std::fs::read(&second).unwrap()
        );
        let (columns, rows) = read_back(&first);
        assert_eq!(columns, COLUMNS);
        let expected: Vec<[String; 13]> = Rows::new(&options).collect();
        assert_eq!(rows.len(), expected.len());
        let mut invalid_amounts = 0;
        for (row, expected) in rows.iter().zip(&expected) {
            for (column, (cell, want)) in row.iter().zip(expected).enumerate() {
                match want.parse::<f64>() {
                    Ok(number) if column == DEAL_VALUE_COLUMN => {
                        assert_eq!(cell.parse::<f64>().unwrap(), number, "{cell} vs {want}")
                    }
                    _ => {
                        invalid_amounts += usize::from(column == DEAL_VALUE_COLUMN);
                        assert_eq!(cell, want, "column {column}");
                    }
                }
            }
        }
        assert!(invalid_amounts > 0, "some deal values stay text");
    }

    #[test]
    fn format_from_name_and_extension() {
        assert_eq!(OutputFormat::parse("XLSX").unwrap(), OutputFormat::Xlsx);
        assert!(OutputFormat::parse("ods").is_err());
        assert_eq!(
            OutputFormat::from_path(Path::new("c.parquet")),
            Some(OutputFormat::Parquet)
        );
        assert_eq!(OutputFormat::from_path(Path::new("c.txt")), None);
    }

    #[test]
    fn rows_duplicates_and_update_overlap() {
        let options = GenerateOptions {
            rows: 2_000,
            duplicate_rate: 0.1,
            ..GenerateOptions::default()
        };
        let text = String::from_utf8(generate(&options)).unwrap();
        let mut reader = csv::Reader::from_reader(text.as_bytes());
        let emails: Vec<String> = reader
            .records()
            .map(|r| r.unwrap()[2].to_lowercase())
            .collect();
        assert_eq!(emails.len(), 2_000);
        let distinct: std::collections::HashSet<&String> = emails.iter().collect();
        let duplicates = emails.len() - distinct.len();
        assert!((100..=300).contains(&duplicates), "{duplicates} duplicates");

        let update = GenerateOptions {
            update_of: Some(options.seed),
            duplicate_rate: 0.0,
            ..options
        };
        let text = String::from_utf8(generate(&update)).unwrap();
        let mut reader = csv::Reader::from_reader(text.as_bytes());
        let shared = reader
            .records()
            .filter(|r| distinct.contains(&r.as_ref().unwrap()[2].to_lowercase()))
            .count();
        assert!((900..=1_100).contains(&shared), "{shared} shared emails");
    }
}
