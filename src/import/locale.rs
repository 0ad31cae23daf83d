//! Locales of an import (`--locale`, `locale` in the execute body) and, without one, the date
//! order a file's own values decide.
//!
//! In: a locale tag (`en-US`, `en-GB`, `de-DE`, `fr-FR`, …), or a file, its mapping and its
//! module. Out: the [`ValueOptions`] the import reads values with, and `ambiguous_date`
//! warnings naming the column (with the first row concerned) when nothing decides the order.
//! Guarantees: a locale decides alone; without one, a date column is read in the one order that
//! fits all its values (a `13/02/2024` anywhere decides day-first), the file read once, streaming,
//! with a few counters per column.

use std::str::FromStr;

use phonenumber::country::Id as Region;

use crate::error::{Error, Result};
use crate::import::mapping::ColumnMapping;
use crate::import::report::RowErrorCode;
use crate::import::source::{self, SourceOptions};
use crate::import::validate::Warning;
use crate::schema::value::ValueOptions;
use crate::schema::{FieldType, Module};

/// Regions that write the month first (`03/04/2024` is March 4).
const MONTH_FIRST_REGIONS: [Region; 6] = [
    Region::US,
    Region::PH,
    Region::FM,
    Region::MH,
    Region::PW,
    Region::AS,
];

/// A language and region, e.g. `de-DE`: the region decides the day/month order and the default
/// phone region.
#[derive(Debug, Clone, PartialEq)]
pub struct Locale {
    pub tag: String,
    pub region: Region,
}

impl Locale {
    pub fn day_first(&self) -> bool {
        !MONTH_FIRST_REGIONS.contains(&self.region)
    }

    pub fn value_options(&self) -> ValueOptions {
        ValueOptions {
            default_region: self.region,
            day_first: self.day_first(),
        }
    }
}

impl FromStr for Locale {
    type Err = Error;

    fn from_str(tag: &str) -> Result<Locale> {
        let bad = |why: &str| {
            Error::invalid_field(
                "locale",
                format!("'{tag}' is not a locale: {why} (e.g. en-US, en-GB, de-DE, fr-FR)"),
                Some(serde_json::json!(tag)),
            )
        };
        let region = tag
            .trim()
            .split(['-', '_'])
            .nth(1)
            .ok_or_else(|| bad("a region is needed"))?;
        let region =
            Region::from_str(&region.to_ascii_uppercase()).map_err(|_| bad("unknown region"))?;
        Ok(Locale {
            tag: tag.trim().to_string(),
            region,
        })
    }
}

/// What a date column's values say about the order of day and month.
#[derive(Debug, Default, Clone)]
struct DateEvidence {
    /// First row whose value only reads day-first (`13/02/2024`), and that value.
    day_first: Option<(u64, String)>,
    /// First row whose value only reads month-first (`02/13/2024`).
    month_first: Option<(u64, String)>,
    /// First row whose value reads both ways as different dates (`03/04/2024`).
    either: Option<(u64, String)>,
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

impl DateEvidence {
    fn see(&mut self, row: u64, text: &str) {
        let Some((a, b)) = leading_pair(text) else {
            return;
        };
        let slot = match (a, b) {
            (13..=31, 1..=12) => &mut self.day_first,
            (1..=12, 13..=31) => &mut self.month_first,
            (1..=12, 1..=12) if a != b => &mut self.either,
            _ => return,
        };
        slot.get_or_insert_with(|| (row, text.trim().to_string()));
    }
}

/// The value options of an import and its warnings: from `locale` when given, else from the
/// date columns of the file at `path` (read once).
pub fn value_options_for(
    module: &Module,
    path: &std::path::Path,
    source_options: &SourceOptions,
    mappings: &[ColumnMapping],
    locale: Option<&str>,
) -> Result<(ValueOptions, Vec<Warning>)> {
    if let Some(tag) = locale {
        return Ok((tag.parse::<Locale>()?.value_options(), Vec::new()));
    }
    let mut source = source::open(path, source_options)?;
    // The columns mapped to date and date-time fields, with their field.
    let dated: Vec<(usize, String, String)> = mappings
        .iter()
        .filter(|m| !m.ignored)
        .filter_map(|m| {
            let field = module.field(m.target_field_slug.as_deref()?)?;
            matches!(field.field_type, FieldType::Date | FieldType::Datetime).then_some(())?;
            let index = source
                .columns()
                .iter()
                .position(|c| *c == m.source_column)?;
            Some((index, m.source_column.clone(), field.slug.clone()))
        })
        .collect();
    let mut options = ValueOptions::default();
    if dated.is_empty() {
        return Ok((options, Vec::new()));
    }
    let mut evidence = vec![DateEvidence::default(); dated.len()];
    loop {
        let chunk = source.next_chunk(1_000)?;
        if chunk.is_empty() {
            break;
        }
        for row in &chunk {
            for ((index, _, _), seen) in dated.iter().zip(evidence.iter_mut()) {
                if let Some(cell) = row.cells.get(*index) {
                    seen.see(row.row_number, cell);
                }
            }
        }
    }
    let mut warnings = Vec::new();
    let decided_day_first = evidence.iter().any(|e| e.day_first.is_some());
    let decided_month_first = evidence.iter().any(|e| e.month_first.is_some());
    options.day_first = decided_day_first && !decided_month_first;
    for ((_, column, field), seen) in dated.iter().zip(&evidence) {
        match (&seen.day_first, &seen.month_first, &seen.either) {
            (Some((day_row, day)), Some((month_row, month)), _) => warnings.push(Warning {
                row: (*day_row).min(*month_row),
                code: RowErrorCode::AmbiguousDate,
                field: field.clone(),
                message: format!(
                    "column '{column}' mixes day-first dates (row {day_row}: {day}) and \
                     month-first dates (row {month_row}: {month}): fix the file or give a locale"
                ),
            }),
            (None, None, Some((row, value))) if !(decided_day_first ^ decided_month_first) => {
                warnings.push(Warning {
                    row: *row,
                    code: RowErrorCode::AmbiguousDate,
                    field: field.clone(),
                    message: format!(
                        "column '{column}': no value decides whether {value} is day-first or \
                         month-first; read as {}: give a locale (--locale en-GB, de-DE, en-US, …)",
                        if options.day_first {
                            "day-first"
                        } else {
                            "month-first"
                        }
                    ),
                })
            }
            _ => {}
        }
    }
    Ok((options, warnings))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locales_decide_order_and_region() {
        let gb: Locale = "en-GB".parse().unwrap();
        assert!(gb.day_first());
        assert_eq!(gb.region, Region::GB);
        let us: Locale = "en_us".parse().unwrap();
        assert!(!us.day_first());
        assert!("fr".parse::<Locale>().is_err());
        assert!("xx-QQ".parse::<Locale>().is_err());
    }

    #[test]
    fn evidence_from_values() {
        let mut e = DateEvidence::default();
        e.see(2, "03/04/2024");
        e.see(3, "2024-02-13");
        assert!(e.either.is_some() && e.day_first.is_none() && e.month_first.is_none());
        e.see(4, "13.02.2024");
        assert_eq!(e.day_first, Some((4, "13.02.2024".into())));
        e.see(5, "02/13/24");
        assert_eq!(e.month_first.as_ref().map(|m| m.0), Some(5));
    }
}
