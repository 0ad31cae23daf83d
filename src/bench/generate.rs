//! A deterministic generator of contacts files for benchmarks and large-file tests.
//!
//! The same seed and row count give byte-identical output on every machine and every release:
//! the random numbers come from SplitMix64, written out here (a dozen lines) rather than taken
//! from a crate whose algorithms may change between versions, which would change the files and
//! make old benchmark figures incomparable. Values look like a CRM export: names, emails (with a
//! chosen share of duplicates, some differing only in letter case), phones in several formats,
//! companies, titles, amounts, statuses, dates, and notes with commas, quotes and line breaks.

use std::io::Write;

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

/// Writes the file as CSV (UTF-8, comma, RFC 4180 quoting).
pub fn write_csv(out: impl Write, options: &GenerateOptions) -> Result<()> {
    let mut writer = csv::WriterBuilder::new().from_writer(out);
    let io = |e: csv::Error| Error::Io {
        path: "generated csv".into(),
        source: std::io::Error::other(e),
    };
    writer.write_record(COLUMNS).map_err(io)?;
    let mut rng = SplitMix64(options.seed);
    let mut record: Vec<String> = Vec::with_capacity(COLUMNS.len());
    for index in 0..options.rows {
        record.clear();
        let first = rng.pick(&FIRST);
        let last = rng.pick(&LAST);
        let email = match options.update_of {
            Some(base_seed) if index % 2 == 0 => email_for(index, base_seed),
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
        record.extend(cells);
        writer.write_record(&record).map_err(io)?;
    }
    writer.flush().map_err(|e| Error::Io {
        path: "generated csv".into(),
        source: e,
    })
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
