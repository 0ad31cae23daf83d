//! The error budget of an import (`--max-errors N|N%`, `maxErrors` in the execute body).
//!
//! In: a count (`50`) or a share of the file's rows (`"5%"`), and after each batch the rows
//! failed so far. Out: whether the import is over its budget. Guarantees: without a budget no
//! import stops for its row errors; with one, an import stops at the first batch that takes it
//! over, and (stopping as a failure) has everything it wrote undone.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::{Error, Result};

/// How many failed rows an import may have before it stops.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ErrorBudget {
    /// At most this many rows may fail.
    Rows(u64),
    /// At most this share (0-100) of the file's rows may fail.
    Percent(f64),
}

impl ErrorBudget {
    /// The most rows that may fail in a file of `total_rows`.
    pub fn limit(self, total_rows: u64) -> u64 {
        match self {
            ErrorBudget::Rows(rows) => rows,
            // Rounded down: "5%" of 10 rows allows no more than 0.5 of a row, so none.
            ErrorBudget::Percent(share) => (total_rows as f64 * share / 100.0).floor() as u64,
        }
    }

    pub fn exceeded(self, error_rows: u64, total_rows: u64) -> bool {
        error_rows > self.limit(total_rows)
    }
}

impl fmt::Display for ErrorBudget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ErrorBudget::Rows(rows) => write!(f, "{rows}"),
            ErrorBudget::Percent(share) => write!(f, "{share}%"),
        }
    }
}

impl FromStr for ErrorBudget {
    type Err = Error;

    fn from_str(text: &str) -> Result<ErrorBudget> {
        let bad = || {
            Error::invalid_field(
                "maxErrors",
                format!(
                    "'{text}' is not an error budget: give a number of rows (50) or a share of \
                     the file's rows (5%)"
                ),
                Some(serde_json::json!(text)),
            )
        };
        let text = text.trim();
        match text.strip_suffix('%') {
            Some(share) => {
                let share: f64 = share.trim().parse().map_err(|_| bad())?;
                if !(0.0..=100.0).contains(&share) {
                    return Err(bad());
                }
                Ok(ErrorBudget::Percent(share))
            }
            None => text.parse().map(ErrorBudget::Rows).map_err(|_| bad()),
        }
    }
}

impl Serialize for ErrorBudget {
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        match self {
            ErrorBudget::Rows(rows) => serializer.serialize_u64(*rows),
            ErrorBudget::Percent(_) => serializer.serialize_str(&self.to_string()),
        }
    }
}

impl<'de> Deserialize<'de> for ErrorBudget {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Given {
            Rows(u64),
            Text(String),
        }
        match Given::deserialize(deserializer)? {
            Given::Rows(rows) => Ok(ErrorBudget::Rows(rows)),
            Given::Text(text) => text.parse().map_err(serde::de::Error::custom),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_shares() {
        assert_eq!("50".parse::<ErrorBudget>().unwrap(), ErrorBudget::Rows(50));
        assert_eq!(
            "5%".parse::<ErrorBudget>().unwrap(),
            ErrorBudget::Percent(5.0)
        );
        assert_eq!(ErrorBudget::Percent(5.0).limit(1_000), 50);
        assert_eq!(ErrorBudget::Percent(5.0).limit(10), 0);
        assert!(ErrorBudget::Rows(2).exceeded(3, 10));
        assert!(!ErrorBudget::Rows(2).exceeded(2, 10));
        for bad in ["", "-1", "five", "101%", "x%"] {
            assert!(bad.parse::<ErrorBudget>().is_err(), "{bad}");
        }
        let body: ErrorBudget = serde_json::from_str("\"2.5%\"").unwrap();
        assert_eq!(serde_json::to_string(&body).unwrap(), "\"2.5%\"");
        let body: ErrorBudget = serde_json::from_str("7").unwrap();
        assert_eq!(serde_json::to_string(&body).unwrap(), "7");
    }
}
