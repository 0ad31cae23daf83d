//! Value sniffing for mapping suggestions: what a column's sample values look like (emails,
//! phones, URLs, dates, numbers), so that an email column is suggested for an email field
//! whatever its header says.
//!
//! In: the sample values of one column. Out: a [`ValueProfile`] and how well it fits a field
//! type. A value counts for a kind only when the value parsing of the import accepts it for
//! that type, so the profile agrees with what validation will say.

use crate::schema::value::{self, ValueOptions};
use crate::schema::{FieldDef, FieldType};

/// What the sample values of a column look like.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct ValueProfile {
    pub(super) non_empty: usize,
    emails: usize,
    phones: usize,
    urls: usize,
    dates: usize,
    numbers: usize,
}

impl ValueProfile {
    pub(super) fn of(values: &[&str], options: &ValueOptions) -> ValueProfile {
        let probe = |t: FieldType, v: &str| {
            let def = FieldDef::of_type("probe", t);
            matches!(value::parse_text(&def, v, options), Ok(Some(_)))
        };
        let mut p = ValueProfile::default();
        for v in values.iter().map(|v| v.trim()).filter(|v| !v.is_empty()) {
            p.non_empty += 1;
            if v.contains('@') && probe(FieldType::Email, v) {
                p.emails += 1;
            }
            let digits = v.chars().filter(char::is_ascii_digit).count();
            // Digits alone are as likely ids or amounts: a phone shows a separator or a "+".
            if digits >= 7
                && v.chars().any(|c| " +-().".contains(c))
                && v.chars()
                    .all(|c| c.is_ascii_digit() || " +-().x/".contains(c))
                && probe(FieldType::Phone, v)
            {
                p.phones += 1;
            }
            if (v.starts_with("http") || v.starts_with("www.")) && probe(FieldType::Url, v) {
                p.urls += 1;
            }
            if probe(FieldType::Date, v) && !v.chars().all(|c| c.is_ascii_digit()) {
                p.dates += 1;
            }
            if probe(FieldType::Number, v) {
                p.numbers += 1;
            }
        }
        p
    }

    /// The share of non-empty values of a kind (0 when the column is empty).
    fn share(&self, count: usize) -> f64 {
        if self.non_empty == 0 {
            0.0
        } else {
            count as f64 / self.non_empty as f64
        }
    }

    /// How well the values fit a field type: `Some(share)` for types the values can tell.
    pub(super) fn fit(&self, field_type: FieldType) -> Option<f64> {
        if self.non_empty == 0 {
            return None;
        }
        match field_type {
            FieldType::Email => Some(self.share(self.emails)),
            FieldType::Phone => Some(self.share(self.phones)),
            FieldType::Url => Some(self.share(self.urls)),
            FieldType::Date | FieldType::Datetime => Some(self.share(self.dates)),
            FieldType::Number | FieldType::Currency => Some(self.share(self.numbers)),
            _ => None,
        }
    }
}
