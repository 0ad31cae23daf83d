//! Locales: how a place writes values.
//!
//! In: a tag such as `en-US`, `en-GB`, `de-DE` or `fr-FR` (`_` for `-` and any letter case
//! too). Out: a [`Locale`] whose [`ValueOptions`] read dates in the place's day/month order,
//! numbers with its decimal mark and phone numbers without a country code as its own.
//! Guarantees: a tag is accepted only when all three are known for it — the region by the phone
//! metadata, the decimal mark by the GNU C library's locale data (`pure-rust-locales`) — so a
//! locale always decides alone.

use std::str::FromStr;

use phonenumber::country::Id as Region;
use pure_rust_locales::locale_match;

use crate::error::{Error, Result};
use crate::schema::value::{DecimalMark, ValueOptions};

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
/// phone region, the pair the decimal mark.
#[derive(Debug, Clone, PartialEq)]
pub struct Locale {
    pub tag: String,
    pub region: Region,
    pub decimal_mark: DecimalMark,
}

impl Locale {
    pub fn day_first(&self) -> bool {
        !MONTH_FIRST_REGIONS.contains(&self.region)
    }

    pub fn value_options(&self) -> ValueOptions {
        ValueOptions {
            default_region: self.region,
            day_first: self.day_first(),
            decimal_mark: self.decimal_mark,
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
        let mut parts = tag.trim().split(['-', '_']);
        let language = parts.next().unwrap_or_default().to_ascii_lowercase();
        let region = parts
            .next()
            .ok_or_else(|| bad("a region is needed"))?
            .to_ascii_uppercase();
        let phone_region = Region::from_str(&region).map_err(|_| bad("unknown region"))?;
        let glibc = pure_rust_locales::Locale::try_from(format!("{language}_{region}").as_str())
            .map_err(|_| bad("no number format is known for this language and region"))?;
        let decimal_mark = match locale_match!(glibc => LC_NUMERIC::DECIMAL_POINT) {
            "," => DecimalMark::Comma,
            _ => DecimalMark::Point,
        };
        Ok(Locale {
            tag: tag.trim().to_string(),
            region: phone_region,
            decimal_mark,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locales_decide_order_region_and_decimal_mark() {
        let gb: Locale = "en-GB".parse().unwrap();
        assert!(gb.day_first());
        assert_eq!(gb.region, Region::GB);
        assert_eq!(gb.decimal_mark, DecimalMark::Point);
        let us: Locale = "en_us".parse().unwrap();
        assert!(!us.day_first());
        assert_eq!(us.decimal_mark, DecimalMark::Point);
        for comma in ["de-DE", "fr-FR", "pt-BR", "es-ES"] {
            let locale: Locale = comma.parse().unwrap();
            assert_eq!(locale.decimal_mark, DecimalMark::Comma, "{comma}");
            assert!(locale.day_first(), "{comma}");
        }
        assert_eq!(
            "de-CH".parse::<Locale>().unwrap().decimal_mark,
            DecimalMark::Point
        );
        assert!("fr".parse::<Locale>().is_err());
        assert!("xx-QQ".parse::<Locale>().is_err());
        assert!("zz-DE".parse::<Locale>().is_err());
    }
}
