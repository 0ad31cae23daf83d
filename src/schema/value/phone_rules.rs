//! Phone validation by the `phonenumber` crate's own rules and metadata, without its regex cache.
//!
//! In: the dialable part of a phone number as `phone::phone_shape` leaves it (ASCII digits, at most
//! one `+` before the first digit, and the separators space, no-break space, `-`, `.`, `(`, `)`
//! and `/`) and the region of the import. Out: the number in E.164 when the crate would parse it
//! and call it valid, else `None`.
//!
//! Guarantee: the same answer as `phonenumber::parse_with` + `is_valid_with` + E.164 formatting
//! on the same metadata, step for step, quirks included (an RFC 3966 reading is tried first when
//! there is no space, so `+4420-7946-0958` takes `4420` as its country code and fails; a number
//! with a country code is still stripped by the import region's national prefix rules; the
//! national prefix can come off twice). The unit tests compare the two on every example number of
//! the metadata, written in a dozen ways, for several import regions.
//!
//! Why it exists: the crate looks every regex up by its pattern text in an LRU cache behind a
//! mutex (two SipHashes of a pattern of up to a few hundred bytes per match, a dozen matches per
//! number), checks the text with a `nom` parser and computes a national format the E.164 form
//! never uses; that was two thirds of an import's mapping and validation time. Here each pattern
//! is compiled once, on first use, shared by all threads, and matched directly.

use std::collections::HashMap;
use std::sync::OnceLock;

use phonenumber::country::Id as Region;
use phonenumber::metadata::{Database, Descriptor, Metadata};
use regex::{Regex, RegexBuilder};

/// The crate's `consts::MIN_LENGTH_FOR_NSN`, `MAX_LENGTH_FOR_NSN`, `MAX_LENGTH_FOR_COUNTRY_CODE`.
const MIN_LENGTH_FOR_NSN: usize = 2;
const MAX_LENGTH_FOR_NSN: usize = 17;
const MAX_LENGTH_FOR_COUNTRY_CODE: usize = 3;
/// The crate's `NationalNumber` keeps the number below 2^56 (the top byte counts leading zeros).
const NATIONAL_NUMBER_LIMIT: u64 = 1 << 56;

/// A metadata pattern, compiled on first use.
struct Pattern {
    source: &'static str,
    compiled: OnceLock<Regex>,
}

impl Pattern {
    fn new(source: &'static str) -> Pattern {
        Pattern {
            source,
            compiled: OnceLock::new(),
        }
    }

    fn regex(&self) -> &Regex {
        self.compiled.get_or_init(|| {
            // The crate's options (`ignore_whitespace`). Every text these patterns see is ASCII
            // digits, where ASCII and Unicode classes agree; ASCII classes compile to a fraction
            // of the memory. A pattern that needs Unicode mode compiles as the crate compiles it.
            RegexBuilder::new(self.source)
                .ignore_whitespace(true)
                .unicode(false)
                .build()
                .or_else(|_| {
                    RegexBuilder::new(self.source)
                        .ignore_whitespace(true)
                        .build()
                })
                .unwrap_or_else(|error| {
                    // The crate unwraps the same compilation on its first match.
                    panic!("phone metadata pattern {:?}: {error}", self.source)
                })
        })
    }

    /// The crate's test: the leftmost match starts at the beginning.
    fn matches_at_start(&self, text: &str) -> bool {
        self.regex()
            .find(text)
            .is_some_and(|found| found.start() == 0)
    }
}

/// One number type of a region (the crate's `Descriptor`).
struct TypeRule {
    pattern: Pattern,
    possible_length: &'static [u16],
}

impl TypeRule {
    fn new(descriptor: &'static Descriptor) -> TypeRule {
        TypeRule {
            pattern: Pattern::new(descriptor.national_number().as_str()),
            possible_length: descriptor.possible_length(),
        }
    }

    /// `Descriptor::is_match`.
    fn is_match(&self, national: &str) -> bool {
        if !self.possible_length.is_empty()
            && !self.possible_length.contains(&(national.len() as u16))
        {
            return false;
        }
        self.pattern.matches_at_start(national)
    }
}

/// One region's metadata with its patterns ready to match.
pub(super) struct RegionRules {
    meta: &'static Metadata,
    general: TypeRule,
    /// The types `validator::number_type` tries after the general one. A number is valid when
    /// the general rule and any of these match; the order the crate tries them in only decides
    /// which type it names, so fixed line and mobile, the commonest, come first here.
    types: Vec<TypeRule>,
    international_prefix: Option<Pattern>,
    national_prefix_for_parsing: Option<Pattern>,
    leading_digits: Option<Pattern>,
}

impl RegionRules {
    fn new(meta: &'static Metadata) -> RegionRules {
        let descriptors = meta.descriptors();
        let types = [
            descriptors.fixed_line(),
            descriptors.mobile(),
            descriptors.premium_rate(),
            descriptors.toll_free(),
            descriptors.shared_cost(),
            descriptors.voip(),
            descriptors.personal_number(),
            descriptors.pager(),
            descriptors.uan(),
            descriptors.voicemail(),
        ];
        RegionRules {
            meta,
            general: TypeRule::new(descriptors.general()),
            types: types.into_iter().flatten().map(TypeRule::new).collect(),
            international_prefix: meta
                .international_prefix()
                .map(|regex| Pattern::new(regex.as_str())),
            national_prefix_for_parsing: meta
                .national_prefix_for_parsing()
                .map(|regex| Pattern::new(regex.as_str())),
            leading_digits: meta
                .leading_digits()
                .map(|regex| Pattern::new(regex.as_str())),
        }
    }

    /// `validator::number_type(meta, national) != Type::Unknown`.
    fn is_valid(&self, national: &str) -> bool {
        self.general.is_match(national) && self.types.iter().any(|rule| rule.is_match(national))
    }

    /// `validator::length(meta, number, Type::Unknown)`, reduced to the two questions the parser
    /// asks of it.
    fn length(&self, national: &str) -> Length {
        let length = national.len() as u16;
        let general = self.meta.descriptors().general();
        let possible = general.possible_length();
        let (Some(&minimum), Some(&maximum)) = (possible.first(), possible.last()) else {
            return Length::Other;
        };
        // The crate's order of tests, so that unsorted lengths read as they do there.
        if general.possible_local_length().contains(&length) || length == minimum {
            Length::Possible
        } else if length < minimum {
            Length::TooShort
        } else if length <= maximum && possible.contains(&length) {
            Length::Possible
        } else {
            Length::Other
        }
    }
}

#[derive(PartialEq, Eq)]
enum Length {
    Possible,
    TooShort,
    Other,
}

/// Where the country code came from (the crate's `country::Source`; `Number` needs no variant:
/// nothing reads it after it is set).
#[derive(PartialEq, Eq)]
enum CodeSource {
    Plus,
    Idd,
    Default,
}

/// A number as the crate's first parsing step splits it.
struct RawNumber<'a> {
    national: &'a str,
    /// The country code of an RFC 3966 reading (`+49-…`), as written.
    prefix: Option<&'a str>,
}

/// Every region of the metadata, by id and by country code.
pub(super) struct PhoneRules {
    regions: Vec<RegionRules>,
    by_id: HashMap<&'static str, usize>,
    /// Per country code, its regions in the database's order (the main country first).
    by_code: HashMap<u16, Vec<usize>>,
}

impl PhoneRules {
    pub(super) fn new(database: &'static Database) -> PhoneRules {
        let mut regions = Vec::new();
        let mut by_code = HashMap::new();
        // Country codes have one to three digits; `by_code` also holds the non-geographic
        // entities (region `001`), which `Database::iter` lists only once.
        for code in 1..=999u16 {
            let Some(metas) = database.by_code(&code) else {
                continue;
            };
            let indexes = metas
                .into_iter()
                .map(|meta| {
                    regions.push(RegionRules::new(meta));
                    regions.len() - 1
                })
                .collect();
            by_code.insert(code, indexes);
        }
        let by_id = regions
            .iter()
            .enumerate()
            .filter(|(_, rules)| {
                database
                    .by_id(rules.meta.id())
                    .is_some_and(|meta| std::ptr::eq(meta, rules.meta))
            })
            .map(|(index, rules)| (rules.meta.id(), index))
            .collect();
        PhoneRules {
            regions,
            by_id,
            by_code,
        }
    }

    /// The rules of a region, if the metadata has it.
    pub(super) fn region(&self, region: Region) -> Option<&RegionRules> {
        self.by_id_str(region.as_ref())
    }

    fn by_id_str(&self, id: &str) -> Option<&RegionRules> {
        self.by_id.get(id).map(|&index| &self.regions[index])
    }

    /// `parse_with(database, Some(region), text)`, kept when `is_valid_with`, formatted as E.164.
    /// `text` must be in the alphabet the module note names.
    pub(super) fn valid_e164(&self, text: &str, default: &RegionRules) -> Option<String> {
        debug_assert!(text.chars().all(|c| c.is_ascii_digit()
            || matches!(c, '+' | ' ' | '\u{a0}' | '-' | '.' | '(' | ')' | '/')));
        let number = rfc3966_number(text).or_else(|| natural_number(text))?;
        if !is_viable(number.national) {
            return None;
        }
        let (code, national) = self.country_code(number, default)?;
        let national = strip_national_prefix(default, national);
        if !(MIN_LENGTH_FOR_NSN..=MAX_LENGTH_FOR_NSN).contains(&national.len()) {
            return None;
        }
        // `NationalNumber::from_str`: leading zeros are counted, the rest must be a number.
        let zeros = national.bytes().take_while(|&b| b == b'0').count();
        let value: u64 = national[zeros..].parse().ok()?;
        if value >= NATIONAL_NUMBER_LIMIT {
            return None;
        }
        let rules = self.source_for(code, &national)?;
        rules
            .is_valid(&national)
            .then(|| format!("+{code}{national}"))
    }

    /// `helper::country_code` (with `international_prefix`): the country code and the national
    /// digits left after it.
    fn country_code(&self, number: RawNumber<'_>, default: &RegionRules) -> Option<(u16, String)> {
        let idd = default.international_prefix.as_ref();
        let mut national;
        let mut source;
        let mut prefix = None;
        if let Some(written) = number.prefix {
            source = CodeSource::Plus;
            national = digits(number.national);
            prefix = Some(digits(written));
        } else {
            let pluses = number.national.len() - number.national.trim_start_matches('+').len();
            national = digits(&number.national[pluses..]);
            source = if pluses > 0 {
                CodeSource::Plus
            } else {
                CodeSource::Default
            };
            // After a plus the IDD is only looked for when it starts the number; without one it
            // is looked for anywhere and must start it.
            let look_for_idd = source == CodeSource::Default
                || idd.is_some_and(|re| re.matches_at_start(&national));
            if look_for_idd
                && let Some(found) = idd.and_then(|re| re.regex().find(&national))
                && found.start() == 0
                && !national[found.end()..].starts_with('0')
            {
                if source != CodeSource::Plus {
                    source = CodeSource::Idd;
                }
                national.drain(..found.end());
            }
        }

        if source == CodeSource::Default {
            let code = default.meta.country_code();
            let written = code.to_string();
            if national.starts_with(&written)
                && (!default.general.is_match(&national)
                    || default.length(&national) != Length::Possible)
            {
                national.drain(..written.len());
            }
            return Some((code, national));
        }
        if national.len() <= MIN_LENGTH_FOR_NSN {
            return None;
        }
        if let Some(prefix) = prefix {
            let code: u16 = prefix.parse().ok()?;
            return self.by_code.contains_key(&code).then_some((code, national));
        }
        if national.starts_with('0') {
            return None;
        }
        for len in 1..=MAX_LENGTH_FOR_COUNTRY_CODE {
            let code: u16 = national[..len].parse().ok()?;
            if self.by_code.contains_key(&code) {
                national.drain(..len);
                return Some((code, national));
            }
        }
        None
    }

    /// `validator::source_for` followed by the metadata lookup `is_valid_with` does.
    fn source_for(&self, code: u16, national: &str) -> Option<&RegionRules> {
        let regions = self.by_code.get(&code)?;
        if let [only] = regions[..] {
            let rules = &self.regions[only];
            let id = rules.meta.id();
            if id == "001" {
                return Some(rules);
            }
            id.parse::<Region>().ok()?;
            return self.by_id_str(id);
        }
        regions.iter().find_map(|&index| {
            let rules = self.by_id_str(self.regions[index].meta.id())?;
            let belongs = match &rules.leading_digits {
                Some(leading) => leading.matches_at_start(national),
                None => rules.is_valid(national),
            };
            belongs.then_some(rules)
        })
    }
}

/// The RFC 3966 reading (`parser::rfc3966::phone_number`) of a text in our alphabet: no spaces,
/// an optional `+` and country code ended by a separator, then digits and separators only.
fn rfc3966_number(text: &str) -> Option<RawNumber<'_>> {
    if text.contains(' ') {
        return None;
    }
    let is_separator = |c: char| matches!(c, '-' | '.' | '(' | ')');
    let mut rest = text;
    let mut prefix = None;
    if let Some(after_plus) = text.strip_prefix('+') {
        let end = after_plus.find(is_separator).unwrap_or(after_plus.len());
        if end > 0 {
            prefix = Some(&after_plus[..end]);
            rest = &after_plus[end..];
        }
    }
    let end = rest
        .find(|c: char| !(c.is_ascii_hexdigit() || is_separator(c)))
        .unwrap_or(rest.len());
    // At least one number character, and nothing after them (a `;` would start parameters,
    // which our alphabet has not).
    (end > 0 && end == rest.len()).then_some(RawNumber {
        national: rest,
        prefix,
    })
}

/// The natural reading (`parser::natural::phone_number`): from the first plus or digit to the
/// last digit. Extensions and second numbers need letters, `#`, `,` or `;`, which our alphabet
/// has not.
fn natural_number(text: &str) -> Option<RawNumber<'_>> {
    let start = text.find(|c: char| c == '+' || c.is_ascii_digit())?;
    let end = text.rfind(|c: char| c.is_ascii_digit())? + 1;
    (end > start).then_some(RawNumber {
        national: &text[start..end],
        prefix: None,
    })
}

/// `validator::is_viable`: two digits exactly, or pluses, then at least three digits among
/// punctuation (every other character of our alphabet is punctuation to the crate).
fn is_viable(national: &str) -> bool {
    if national.len() < MIN_LENGTH_FOR_NSN {
        return false;
    }
    let digits = national.bytes().filter(u8::is_ascii_digit).count();
    let short = national.len() == 2 && digits == 2;
    let rest = national.trim_start_matches('+');
    let long = digits >= 3 && !rest.contains('+');
    short || long
}

/// `helper::normalize` of our alphabet: the digits.
fn digits(text: &str) -> String {
    text.chars().filter(char::is_ascii_digit).collect()
}

/// The rest of `parse_with` after the country code: the import region's national prefix rules
/// (`helper::national_number`, then the national prefix once more), kept unless they leave a
/// number too short for the region.
fn strip_national_prefix(default: &RegionRules, national: String) -> String {
    let meta = default.meta;
    let mut potential = national.clone();
    match &default.national_prefix_for_parsing {
        None => {
            if let Some(prefix) = meta.national_prefix()
                && potential.starts_with(prefix)
            {
                potential.drain(..prefix.len());
            }
        }
        Some(parsing) => {
            if let Some(captures) = parsing.regex().captures(&potential)
                && let Some(whole) = captures.get(0)
                && whole.start() == 0
            {
                let last_group = captures.get(captures.len() - 1);
                match meta.national_prefix_transform_rule() {
                    Some(rule) if last_group.is_some() => {
                        let viable = default.general.is_match(&potential);
                        let transformed = parsing.regex().replace(&potential, rule).into_owned();
                        if !viable || default.general.is_match(&transformed) {
                            potential = transformed;
                        }
                    }
                    // The crate's check here compares the number with itself, so it always
                    // strips.
                    _ => {
                        potential.drain(..whole.end());
                    }
                }
            }
        }
    }
    if let Some(prefix) = meta.national_prefix()
        && potential.starts_with(prefix)
    {
        potential.drain(..prefix.len());
    }
    if default.length(&potential) != Length::TooShort {
        potential
    } else {
        national
    }
}

#[cfg(test)]
mod tests {
    use phonenumber::country::Id as Region;
    use phonenumber::metadata::Metadata;

    use super::super::phone::{crate_valid_e164, phone_database};
    use super::*;

    /// Every example number of the metadata (each region, each type), written the ways people
    /// and exports write numbers, plus near misses (a digit more or less, a wrong country code):
    /// only texts `phone_shape` lets through.
    fn spellings(meta: &Metadata) -> Vec<String> {
        let code = meta.country_code();
        let national_prefix = meta.national_prefix().unwrap_or("0");
        let descriptors = meta.descriptors();
        let examples = [
            Some(descriptors.general()),
            descriptors.fixed_line(),
            descriptors.mobile(),
            descriptors.toll_free(),
            descriptors.premium_rate(),
            descriptors.voip(),
            descriptors.uan(),
        ];
        let mut out = Vec::new();
        for example in examples.into_iter().flatten().filter_map(|d| d.example()) {
            let split = example.len().min(3);
            let (head, tail) = example.split_at(split);
            let shorter = &example[..example.len() - 1];
            out.extend([
                example.to_owned(),
                format!("+{code}{example}"),
                format!("+{code} {example}"),
                format!("+{code}-{head}-{tail}"),
                format!("+{code}{head}-{tail}"),
                format!("+{code} ({head}) {tail}"),
                format!("+{code} ({national_prefix}) {example}"),
                format!("+{code}\u{a0}{head}\u{a0}{tail}"),
                format!("+0{code}-{example}"),
                format!("(+{code}) {head}/{tail}"),
                format!("00{code} {example}"),
                format!("011 {code} {example}"),
                format!("{code}{example}"),
                format!("{national_prefix}{example}"),
                format!("{national_prefix}{national_prefix}{example}"),
                format!("({head}) {tail}"),
                format!("{head}.{tail}"),
                format!("{head}/{tail}"),
                format!("{head}-{tail}-"),
                format!("{example}9"),
                format!("+{code} {shorter}"),
                shorter.to_owned(),
            ]);
        }
        out
    }

    /// Compares every spelling for each import region; returns (compared, valid).
    fn compare(regions: &[Region]) -> (usize, usize) {
        let rules = PhoneRules::new(phone_database());
        // Every region's patterns are in play: a cache that holds them all keeps the reference
        // from recompiling regexes on every call.
        phone_database()
            .cache()
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .set_capacity(4_096);
        let mut compared = 0;
        let mut valid = 0;
        let mut mismatches = Vec::new();
        for &region in regions {
            let default = rules.region(region).expect("region in metadata");
            for meta in rules.regions.iter().map(|r| r.meta) {
                for text in spellings(meta) {
                    let ours = rules.valid_e164(&text, default);
                    let theirs = crate_valid_e164(&text, region);
                    if ours != theirs {
                        mismatches.push(format!(
                            "{region:?} {text:?}: ours {ours:?}, crate {theirs:?}"
                        ));
                    }
                    compared += 1;
                    valid += usize::from(theirs.is_some());
                }
            }
        }
        assert!(
            mismatches.is_empty(),
            "{} of {compared} differ:\n{}",
            mismatches.len(),
            mismatches[..mismatches.len().min(40)].join("\n")
        );
        (compared, valid)
    }

    #[test]
    fn same_answers_as_the_crate_for_every_example_number() {
        let (compared, valid) = compare(&[Region::US, Region::GB, Region::DE]);
        // Both outcomes are well represented, so agreement says something.
        assert!(
            compared > 50_000 && valid > compared / 5,
            "{valid} valid of {compared}"
        );
    }

    /// The same over more import regions (national prefixes, IDDs and transform rules of every
    /// kind); slow in a debug build: `cargo test --lib phone_rules -- --ignored`.
    #[test]
    #[ignore]
    fn same_answers_as_the_crate_for_many_import_regions() {
        compare(&[
            Region::FR,
            Region::IT,
            Region::BR,
            Region::AR,
            Region::MX,
            Region::IN,
            Region::AU,
            Region::NZ,
            Region::RU,
            Region::JP,
            Region::CN,
            Region::ZA,
            Region::ES,
            Region::CH,
            Region::NL,
            Region::KR,
        ]);
    }

    #[test]
    fn the_crates_quirks_are_kept() {
        let rules = PhoneRules::new(phone_database());
        let us = rules.region(Region::US).unwrap();
        // No space: read as RFC 3966, whose country code runs to the first separator.
        assert_eq!(rules.valid_e164("+4420-7946-0958", us), None);
        assert_eq!(
            rules.valid_e164("+44 20-7946-0958", us).as_deref(),
            Some("+442079460958")
        );
        assert_eq!(
            rules.valid_e164("+0044-20-7946-0958", us).as_deref(),
            Some("+442079460958")
        );
        for text in ["+4420-7946-0958", "+44 20-7946-0958", "+0044-20-7946-0958"] {
            assert_eq!(
                rules.valid_e164(text, us),
                crate_valid_e164(text, Region::US)
            );
        }
    }
}
