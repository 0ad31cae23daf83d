//! The locale of an import (`--locale`, `locale` in the validate and execute bodies, else the
//! module's `locale`) and, without one, the date order and decimal mark a file's own values
//! decide.
//!
//! In: a locale tag (`en-US`, `en-GB`, `de-DE`, `fr-FR`, …; see [`crate::schema::locale`]), or
//! a file, its mapping and its module. Out: the [`ValueOptions`] the import reads values with,
//! and `ambiguous_date` / `ambiguous_number` warnings naming the column (with the first row
//! concerned) when nothing decides.
//! Guarantees: the import's locale decides, else the module's, else the file: a date column is
//! read in the one order that fits all its values (a `13/02/2024` anywhere decides day-first),
//! a number column with the one decimal mark that fits all its values (a `12,5` or `1.234,56`
//! decides the comma, a `1,234.56` or `12.5` the point). The file is read once, streaming, with
//! a few counters per column.

use crate::error::Result;
use crate::import::mapping::ColumnMapping;
use crate::import::report::RowErrorCode;
use crate::import::source::{self, SourceOptions};
use crate::import::validate::Warning;
pub use crate::schema::locale::Locale;
use crate::schema::value::{self, DecimalMark, ValueOptions};
use crate::schema::{FieldDef, FieldType, Module};

/// The kinds of value whose reading a locale decides.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// First reading day-first (`13/02/2024`), second month-first (`02/13/2024`).
    Date,
    /// First reading with a decimal comma (`1.234,5`), second with a decimal point (`1,234.5`).
    Number,
}

/// What a column's values say about its two readings: the first row (and value) that reads
/// only the first way, only the second way, and both ways as different values.
#[derive(Debug, Default, Clone)]
struct Evidence {
    first: Option<(u64, String)>,
    second: Option<(u64, String)>,
    either: Option<(u64, String)>,
}

/// Which readings a value allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fits {
    First,
    Second,
    /// Both, as different values: the value alone cannot say.
    Both,
}

/// The two leading numbers of a `NN/NN/YYYY`-like date (`/`, `.` or `-` between them).
fn leading_pair(text: &str) -> Option<(u32, u32)> {
    let mut parts = text.trim().splitn(3, ['/', '.', '-']);
    let first = parts.next()?.trim();
    let second = parts.next()?.trim();
    let rest = parts.next()?.trim();
    let year_digits = rest.chars().take_while(char::is_ascii_digit).count();
    if first.len() > 2 || second.len() > 2 || !(year_digits == 2 || year_digits == 4) {
        return None;
    }
    Some((first.parse().ok()?, second.parse().ok()?))
}

fn date_fits(text: &str) -> Option<Fits> {
    match leading_pair(text)? {
        (13..=31, 1..=12) => Some(Fits::First),
        (1..=12, 13..=31) => Some(Fits::Second),
        (a @ 1..=12, b @ 1..=12) if a != b => Some(Fits::Both),
        _ => None,
    }
}

/// Options that read numbers with `decimal_mark` and nothing else differently.
fn with_mark(decimal_mark: DecimalMark) -> ValueOptions {
    ValueOptions {
        decimal_mark,
        ..ValueOptions::default()
    }
}

/// A number's value read with a decimal comma and with a decimal point (`None`: not a number
/// that way).
fn number_readings(field: &FieldDef, text: &str) -> [Option<serde_json::Value>; 2] {
    [DecimalMark::Comma, DecimalMark::Point].map(|mark| {
        value::parse_text(field, text, &with_mark(mark))
            .ok()
            .flatten()
    })
}

fn number_fits(field: &FieldDef, text: &str) -> Option<Fits> {
    match number_readings(field, text) {
        [Some(_), None] => Some(Fits::First),
        [None, Some(_)] => Some(Fits::Second),
        // `$57,500`: the dollar writes a decimal point.
        [Some(comma), Some(point)] if comma != point => match value::implied_decimal_mark(text) {
            Some(DecimalMark::Point) => Some(Fits::Second),
            _ => Some(Fits::Both),
        },
        _ => None,
    }
}

impl Evidence {
    fn see(&mut self, row: u64, text: &str, fits: Option<Fits>) {
        let slot = match fits {
            Some(Fits::First) => &mut self.first,
            Some(Fits::Second) => &mut self.second,
            Some(Fits::Both) => &mut self.either,
            None => return,
        };
        // A hostile cell must not fill the warning: what is kept is an excerpt.
        slot.get_or_insert_with(|| (row, crate::error::excerpt(text.trim())));
    }
}

/// A mapped column whose values a locale reads.
struct Column {
    index: usize,
    name: String,
    field: FieldDef,
    kind: Kind,
    seen: Evidence,
    /// A number column's first value that reads two ways: read with a decimal point, with a
    /// decimal comma, and by its own shape (what an undecided import stores).
    either_readings: Option<[String; 3]>,
}

/// How the whole file reads one kind: its first reading, its second, or neither decided (no
/// value decides, or values decide both).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Decision {
    First,
    Second,
    Open,
}

fn decide(columns: &[Column], kind: Kind) -> Decision {
    let of_kind = || columns.iter().filter(move |c| c.kind == kind);
    let first = of_kind().any(|c| c.seen.first.is_some());
    let second = of_kind().any(|c| c.seen.second.is_some());
    match (first, second) {
        (true, false) => Decision::First,
        (false, true) => Decision::Second,
        _ => Decision::Open,
    }
}

/// The value options of an import and its warnings: from `locale` when given, else from the
/// module's locale, else from the date and number columns of the file at `path` (read once).
pub fn value_options_for(
    module: &Module,
    path: &std::path::Path,
    source_options: &SourceOptions,
    mappings: &[ColumnMapping],
    locale: Option<&str>,
) -> Result<(ValueOptions, Vec<Warning>)> {
    if let Some(tag) = locale.or(module.def.locale.as_deref()) {
        return Ok((tag.parse::<Locale>()?.value_options(), Vec::new()));
    }
    let mut source = source::open(path, source_options)?;
    let mut columns: Vec<Column> = mappings
        .iter()
        .filter(|m| !m.ignored)
        .filter_map(|m| {
            let field = module.field(m.target_field_slug.as_deref()?)?;
            let kind = match field.field_type {
                FieldType::Date | FieldType::Datetime => Kind::Date,
                FieldType::Number | FieldType::Currency => Kind::Number,
                _ => return None,
            };
            let index = source
                .columns()
                .iter()
                .position(|c| *c == m.source_column)?;
            Some(Column {
                index,
                name: m.source_column.clone(),
                field: field.clone(),
                kind,
                seen: Evidence::default(),
                either_readings: None,
            })
        })
        .collect();
    let mut options = ValueOptions::default();
    if columns.is_empty() {
        return Ok((options, Vec::new()));
    }
    loop {
        let chunk = source.next_chunk(1_000)?;
        if chunk.is_empty() {
            break;
        }
        for row in &chunk {
            for column in &mut columns {
                let Some(cell) = row.cells.get(column.index) else {
                    continue;
                };
                let fits = match column.kind {
                    Kind::Date => date_fits(cell),
                    Kind::Number => number_fits(&column.field, cell),
                };
                if fits == Some(Fits::Both)
                    && column.kind == Kind::Number
                    && column.either_readings.is_none()
                {
                    column.either_readings = Some(
                        [DecimalMark::Point, DecimalMark::Comma, DecimalMark::Either].map(|mark| {
                            value::parse_text(&column.field, cell, &with_mark(mark))
                                .ok()
                                .flatten()
                                .map_or_else(String::new, |v| value::display_text(&v))
                        }),
                    );
                }
                column.seen.see(row.row_number, cell, fits);
            }
        }
    }
    let dates = decide(&columns, Kind::Date);
    let numbers = decide(&columns, Kind::Number);
    options.day_first = dates == Decision::First;
    options.decimal_mark = match numbers {
        Decision::First => DecimalMark::Comma,
        Decision::Second => DecimalMark::Point,
        Decision::Open => DecimalMark::Either,
    };
    let warnings = columns
        .iter()
        .filter_map(|column| {
            let decision = match column.kind {
                Kind::Date => dates,
                Kind::Number => numbers,
            };
            warning(column, decision, options.day_first)
        })
        .collect();
    Ok((options, warnings))
}

/// The warning a column needs: a date column whose values need both orders, or a column with
/// a value that reads two ways which nothing in the file decides. (A number column whose values
/// need both marks is read value by value, each by its own shape: only its undecided values
/// need a warning.)
fn warning(column: &Column, decision: Decision, day_first: bool) -> Option<Warning> {
    let Column {
        name, field, kind, ..
    } = column;
    let (code, first_name, second_name) = match kind {
        Kind::Date => (
            RowErrorCode::AmbiguousDate,
            "day-first dates",
            "month-first dates",
        ),
        Kind::Number => (
            RowErrorCode::AmbiguousNumber,
            "decimal commas",
            "decimal points",
        ),
    };
    let mix = match &column.seen {
        Evidence {
            first: Some((first_row, first)),
            second: Some((second_row, second)),
            ..
        } => Some((
            (*first_row).min(*second_row),
            format!(
                "column '{name}' mixes {first_name} (row {first_row}: {first}) and \
                 {second_name} (row {second_row}: {second})"
            ),
        )),
        _ => None,
    };
    let open = match &column.seen.either {
        Some((row, value)) if decision == Decision::Open => Some((*row, value)),
        _ => None,
    };
    let (row, message) = match (kind, mix, open) {
        (Kind::Date, Some((row, mix)), _) => (row, format!("{mix}: fix the file or give a locale")),
        (_, mix, Some((row, value))) => {
            let question = match kind {
                Kind::Date => format!(
                    "whether {value} is day-first or month-first; read as {}",
                    if day_first {
                        "day-first"
                    } else {
                        "month-first"
                    }
                ),
                Kind::Number => {
                    let [point, comma, read] = column.either_readings.clone().unwrap_or_default();
                    format!(
                        "whether {value} (row {row}) is {point} (decimal point) or {comma} \
                         (decimal comma); read as {read}"
                    )
                }
            };
            let message = match mix {
                Some((_, mix)) => format!("{mix}, so nothing decides {question}"),
                None => format!("column '{name}': no value decides {question}"),
            };
            (
                row,
                format!("{message}: give a locale (--locale en-US, en-GB, de-DE, fr-FR, …)"),
            )
        }
        _ => return None,
    };
    Some(Warning {
        row,
        code,
        field: field.slug.clone(),
        message,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn date_evidence_from_values() {
        let mut e = Evidence::default();
        for (row, text) in [(2, "03/04/2024"), (3, "2024-02-13")] {
            e.see(row, text, date_fits(text));
        }
        assert!(e.either.is_some() && e.first.is_none() && e.second.is_none());
        e.see(4, "13.02.2024", date_fits("13.02.2024"));
        assert_eq!(e.first, Some((4, "13.02.2024".into())));
        e.see(5, "02/13/24", date_fits("02/13/24"));
        assert_eq!(e.second.as_ref().map(|m| m.0), Some(5));
        // A hostile cell is kept as an excerpt, whatever its length.
        let mut e = Evidence::default();
        let long = format!("03/04/2024{}", " x".repeat(500_000));
        e.see(2, &long, date_fits(&long));
        assert!(e.either.unwrap().1.chars().count() <= 81);
    }

    #[test]
    fn number_evidence_from_values() {
        let number = FieldDef::of_type("amount", FieldType::Number);
        let fits = |text| number_fits(&number, text);
        for comma in ["12,5", "1.234,56", "0,750", "1.234.567", "1 234,5"] {
            assert_eq!(fits(comma), Some(Fits::First), "{comma}");
        }
        for point in ["12.5", "1,234.56", "0.750", "1,234,567", "1'234.5"] {
            assert_eq!(fits(point), Some(Fits::Second), "{point}");
        }
        for both in ["1.234", "1,234", "-1.500", "57,500 €"] {
            assert_eq!(fits(both), Some(Fits::Both), "{both}");
        }
        // A dollar, pound, yen or rupee amount writes a decimal point.
        for hinted in ["$57,500", "£1.500", "USD 1,234", "1,234 CHF"] {
            assert_eq!(fits(hinted), Some(Fits::Second), "{hinted}");
        }
        for neither in ["1234", "1 234", "42", "abc", ""] {
            assert_eq!(fits(neither), None, "{neither}");
        }
    }
}
