//! Value sniffing for mapping suggestions: what a column's sample values look like (emails,
//! phones, URLs, dates, amounts, person and company names, postcodes, places, long text, ids,
//! honorifics), so that values decide where a header does not, and contradict a header that
//! names the wrong thing (a "Title" of Mr/Ms is not a job title; dates are never a phone).
//!
//! In: the sample values of one column. Out: a [`ValueProfile`]: per kind, the share of the
//! non-empty values of that kind. Emails, phones, URLs, dates and numbers count only when the
//! value parsing of the import accepts them for that type, so the profile agrees with what
//! validation will say.

use crate::schema::value::{self, ValueOptions};
use crate::schema::{FieldDef, FieldType};

/// The kinds a value can be sniffed as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    Email,
    Phone,
    Url,
    /// A URL of a social profile (LinkedIn, Facebook…): not a website.
    SocialUrl,
    Date,
    /// A number with a currency symbol or code.
    Money,
    Number,
    /// A code of letters and digits without spaces ("cus_PqR8", "CRM-000481", "IT0123").
    Identifier,
    /// Mr, Ms, Dr…
    Honorific,
    /// Two to four capitalised words of letters: "Maria Chen", "Ana Paula Ferreira".
    PersonName,
    /// A name with a legal form or a business word: "Acme Ltd", "Studio Rossi Architetti".
    CompanyName,
    /// One or two capitalised words without digits: a city, a first name, a status word.
    Word,
    /// A postcode shape: 3 to 10 characters, mostly digits ("01426-001", "1016 GV", "SK9 1AA").
    Postcode,
    /// Four or more words: a note.
    LongText,
}

const KINDS: usize = 14;

/// The most characters of a value that are sniffed.
const MAX_SNIFFED_CHARS: usize = 256;

/// What the sample values of a column look like.
#[derive(Debug, Clone, Default)]
pub(super) struct ValueProfile {
    pub(super) non_empty: usize,
    counts: [usize; KINDS],
    /// The distinct non-empty values, in first-seen order.
    pub(super) distinct: Vec<String>,
}

const HONORIFICS: &[&str] = &[
    "mr", "mrs", "ms", "miss", "mx", "dr", "prof", "sir", "madam", "herr", "frau", "m", "mme",
    "mlle", "sr", "sra", "srta", "sig", "sigra", "dott", "dssa", "pan", "pani", "dhr", "mevr",
    "rev", "hon",
];

/// Words of company names: legal forms and the business words names of firms carry.
const COMPANY_WORDS: &[&str] = &[
    "ltd",
    "llc",
    "inc",
    "corp",
    "co",
    "plc",
    "llp",
    "lp",
    "gmbh",
    "ag",
    "kg",
    "ug",
    "sarl",
    "sas",
    "sa",
    "srl",
    "spa",
    "bv",
    "nv",
    "ab",
    "as",
    "oy",
    "kft",
    "sp",
    "zoo",
    "pty",
    "pvt",
    "limited",
    "company",
    "corporation",
    "group",
    "holding",
    "holdings",
    "studio",
    "clinic",
    "clinica",
    "consulting",
    "solutions",
    "services",
    "systems",
    "technologies",
    "labs",
    "partners",
    "associates",
    "agency",
    "industries",
    "international",
    "analytics",
    "logistics",
    "media",
    "foods",
    "freight",
    "brewing",
    "design",
    "law",
    "hospitality",
    "energy",
    "farms",
    "pharma",
    "cooperativa",
    "software",
    "bank",
    "ventures",
    "university",
    "school",
    "hotel",
    "restaurant",
    "cafe",
    "shop",
    "store",
    "trading",
    "exports",
    "roofing",
    "veterinary",
    "health",
    "dental",
    "insurance",
    "capital",
    "realty",
    "construction",
    "build",
    "electric",
    "digital",
    "network",
];

const SOCIAL_HOSTS: &[&str] = &[
    "linkedin.",
    "facebook.",
    "twitter.",
    "x.com/",
    "instagram.",
    "xing.",
    "github.com/",
    "youtube.",
    "tiktok.",
];

impl ValueProfile {
    pub(super) fn of(values: &[&str], options: &ValueOptions) -> ValueProfile {
        let mut p = ValueProfile::default();
        for raw in values {
            let v = raw.trim();
            // A spreadsheet-safe export's leading quote is an escape, not data.
            let v = v.strip_prefix('\'').unwrap_or(v).trim();
            if v.is_empty() {
                continue;
            }
            // What a value is shows in its first characters; a hostile cell costs no more.
            let v = match v.char_indices().nth(MAX_SNIFFED_CHARS) {
                Some((end, _)) => &v[..end],
                None => v,
            };
            p.non_empty += 1;
            if p.distinct.len() < super::value_map::MAX_DISTINCT
                && !p.distinct.iter().any(|d| d == v)
            {
                p.distinct.push(v.to_string());
            }
            for kind in kinds_of(v, options) {
                p.counts[kind as usize] += 1;
            }
        }
        p
    }

    /// The share of non-empty values of a kind (0 when the column is empty).
    pub(super) fn share(&self, kind: Kind) -> f64 {
        if self.non_empty == 0 {
            0.0
        } else {
            self.counts[kind as usize] as f64 / self.non_empty as f64
        }
    }

    /// The share of values that are data of a kind no text field holds (emails, phones, URLs,
    /// dates, numbers, ids).
    pub(super) fn non_text_share(&self) -> f64 {
        [
            Kind::Email,
            Kind::Phone,
            Kind::Url,
            Kind::SocialUrl,
            Kind::Date,
            Kind::Number,
            Kind::Money,
            Kind::Identifier,
        ]
        .iter()
        .map(|k| self.share(*k))
        .fold(0.0, f64::max)
    }
}

fn probe(t: FieldType, v: &str, options: &ValueOptions) -> bool {
    let def = FieldDef::of_type("probe", t);
    matches!(value::parse_text(&def, v, options), Ok(Some(_)))
}

fn is_date(v: &str, options: &ValueOptions) -> bool {
    if v.chars().all(|c| c.is_ascii_digit()) || v.parse::<f64>().is_ok() {
        // Plain numbers read as Excel serials; a sniffed date needs separators or words.
        return false;
    }
    let day_first = ValueOptions {
        day_first: !options.day_first,
        ..options.clone()
    };
    [FieldType::Date, FieldType::Datetime]
        .iter()
        .any(|t| probe(*t, v, options) || probe(*t, v, &day_first))
}

/// Tax and registration numbers write digit groups with two kinds of separators
/// ("123.456.789-09", "525-000-12-34" is caught by the header); a phone uses one.
fn looks_like_tax_id(v: &str) -> bool {
    let dots = v.contains('.');
    let dashes = v.contains('-');
    let slashes = v.contains('/');
    (dots as u8 + dashes as u8 + slashes as u8) >= 2 && !v.contains(' ') && !v.starts_with('+')
}

fn kinds_of(v: &str, options: &ValueOptions) -> Vec<Kind> {
    let mut kinds = Vec::new();
    let lower = v.to_lowercase();
    if v.contains('@') && !v.contains(' ') && probe(FieldType::Email, v, options) {
        kinds.push(Kind::Email);
    }
    let date = is_date(v, options);
    if date {
        kinds.push(Kind::Date);
    }
    let digits = v.chars().filter(char::is_ascii_digit).count();
    if !date
        && (7..=16).contains(&digits)
        && v.chars()
            .all(|c| c.is_ascii_digit() || " +-().x/".contains(c) || c.is_ascii_alphabetic() && "extEXT".contains(c))
        && !looks_like_tax_id(v)
        // Bare digits are as likely ids: a phone shows a separator, a "+" or a trunk "0".
        && (v.starts_with(['+', '0', '(']) || v.chars().any(|c| " -().".contains(c)) || digits == 10)
        && probe(FieldType::Phone, v, options)
    {
        kinds.push(Kind::Phone);
    }
    // A bare domain ("acme.com") is how many exports write a website.
    let bare_domain = !v.contains(['@', ' ', '/'])
        && v.rsplit_once('.').is_some_and(|(name, tld)| {
            !name.is_empty()
                && (2..=12).contains(&tld.len())
                && tld.chars().all(|c| c.is_ascii_lowercase())
        })
        && v.chars().any(|c| c.is_ascii_alphabetic())
        && !v.ends_with('.');
    if lower.starts_with("http") || lower.starts_with("www.") || bare_domain {
        if SOCIAL_HOSTS.iter().any(|h| lower.contains(h)) {
            kinds.push(Kind::SocialUrl);
        } else if bare_domain || probe(FieldType::Url, v, options) {
            kinds.push(Kind::Url);
        }
    }
    let number = probe(FieldType::Number, v, options);
    if number {
        kinds.push(Kind::Number);
    }
    let has_currency = v.chars().any(|c| "$€£¥₹₽₩₺₪".contains(c))
        || v.split(|c: char| !c.is_ascii_alphabetic()).any(|w| {
            w.len() == 3 && w.chars().all(|c| c.is_ascii_uppercase()) && is_currency_code(w)
        })
        || lower.contains("zł")
        || lower.starts_with("r$");
    if has_currency
        && digits > 0
        && (number || probe(FieldType::Currency, v, options) || money_shape(v))
    {
        kinds.push(Kind::Money);
    }
    let words: Vec<&str> = v.split_whitespace().collect();
    // One word of letters with digits, or joined by "_", that is nothing else: a record id or
    // a code ("cus_PqR8", "CRM-000481", "zcrm_4876").
    if words.len() == 1
        && kinds.is_empty()
        && v.chars().any(|c| c.is_ascii_alphabetic())
        && (digits > 0 || v.contains('_'))
    {
        kinds.push(Kind::Identifier);
    }
    let bare = lower.trim_end_matches('.');
    if HONORIFICS.contains(&bare) {
        kinds.push(Kind::Honorific);
    }
    let letter_words = words
        .iter()
        .all(|w| w.chars().all(|c| c.is_alphabetic() || "'-.,".contains(c)));
    let capitalised = words
        .iter()
        .all(|w| w.chars().next().is_some_and(char::is_uppercase));
    let word_tokens: Vec<String> = lower
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_string)
        .collect();
    let company = word_tokens
        .iter()
        .any(|w| COMPANY_WORDS.contains(&w.as_str()))
        || v.contains(" & ");
    if company && words.len() >= 2 && !v.contains('@') {
        kinds.push(Kind::CompanyName);
    }
    if (2..=4).contains(&words.len()) && letter_words && capitalised && !company && digits == 0 {
        kinds.push(Kind::PersonName);
    }
    // A dot inside a word ("acme.example") is a domain or a code, not a place.
    let inner_dot = v
        .split_whitespace()
        .any(|w| w.trim_end_matches('.').contains('.'));
    if (1..=2).contains(&words.len())
        && letter_words
        && capitalised
        && digits == 0
        && !v.contains(',')
        && !inner_dot
    {
        kinds.push(Kind::Word);
    }
    let compact: String = v.chars().filter(|c| !" -".contains(*c)).collect();
    if (2..=10).contains(&compact.len())
        && digits >= 1
        && digits * 3 >= compact.len()
        && compact.chars().all(|c| c.is_ascii_alphanumeric())
        && words.len() <= 2
        && !date
    {
        kinds.push(Kind::Postcode);
    }
    if words.len() >= 4 && !kinds.contains(&Kind::CompanyName) {
        kinds.push(Kind::LongText);
    }
    kinds
}

fn is_currency_code(word: &str) -> bool {
    const CODES: &[&str] = &[
        "USD", "EUR", "GBP", "CHF", "JPY", "CNY", "INR", "BRL", "MXN", "CAD", "AUD", "NZD", "SEK",
        "NOK", "DKK", "PLN", "CZK", "HUF", "RON", "ZAR", "SGD", "HKD", "KRW", "TRY", "RUB", "AED",
        "SAR", "ILS", "NGN", "KES", "ARS", "CLP", "COP", "PEN",
    ];
    CODES.contains(&word)
}

/// "€ 12.500,00", "12 500,00 zł", "$1.5k": digits with separators around a currency mark.
fn money_shape(v: &str) -> bool {
    let core: String = v
        .chars()
        .filter(|c| c.is_ascii_digit() || ".,' ".contains(*c))
        .collect();
    let rest: String = v
        .chars()
        .filter(|c| !(c.is_ascii_digit() || ".,' ".contains(*c)))
        .collect();
    !core.trim().is_empty() && rest.chars().count() <= 4
}

#[cfg(test)]
mod tests {
    use super::*;

    fn profile(values: &[&str]) -> ValueProfile {
        ValueProfile::of(values, &ValueOptions::default())
    }

    #[test]
    fn dates_and_tax_ids_are_not_phones() {
        let p = profile(&["01.02.2024", "14.03.2024", "28.02.2024"]);
        assert_eq!(p.share(Kind::Phone), 0.0);
        assert_eq!(p.share(Kind::Date), 1.0);
        let p = profile(&["123.456.789-09", "987.654.321-00"]);
        assert_eq!(p.share(Kind::Phone), 0.0);
        let p = profile(&["'+5511987654321", "(617) 555-0148", "+49 30 901820"]);
        assert_eq!(p.share(Kind::Phone), 1.0);
    }

    #[test]
    fn names_companies_money_and_profiles() {
        let p = profile(&["Maria Chen", "Oliver Grant", "Ana Paula Ferreira"]);
        assert_eq!(p.share(Kind::PersonName), 1.0);
        let p = profile(&["Danube IT Kft.", "Lagos Agro Ltd", "Brooks Brewing Co."]);
        assert_eq!(p.share(Kind::CompanyName), 1.0);
        let p = profile(&["€8.400,00", "$12,500.00", "CHF 3,200.00", "12 500,00 zł"]);
        assert_eq!(p.share(Kind::Money), 1.0);
        let p = profile(&["https://www.linkedin.com/in/x", "https://acme.com"]);
        assert_eq!(p.share(Kind::SocialUrl), 0.5);
        assert_eq!(p.share(Kind::Url), 0.5);
        let p = profile(&["Mr.", "Ms.", "Dr."]);
        assert_eq!(p.share(Kind::Honorific), 1.0);
    }
}
