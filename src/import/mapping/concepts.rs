//! What canonical header tokens mean for a module: the concepts (first name, email, a street…),
//! the patterns of tokens that name each, the qualifiers that may stand beside them ("Work",
//! "Default", "Billing", a number), the words that say a column is something the module does not
//! hold (an id, a fax, a tax number, an owner), and the words that give a phone's kind.
//!
//! In: canonical tokens ([`super::synonyms::canonical_tokens`]) and a module's fields. Out:
//! [`HeaderMatch`]es, each a target with a header score in 0..1. A pattern matches when all its
//! tokens are in the header; the score falls with every header word the pattern leaves
//! unexplained, and a blocking word the pattern does not contain rules the target out.

use crate::schema::{FieldDef, FieldType};

/// Field concepts and the token patterns that name them. A field takes the concept of its slug,
/// else of its type (email, phone, url); a field's own slug and label are patterns too.
const CONCEPTS: &[(&str, &[&str])] = &[
    ("first_name", &["first name", "first", "given name"]),
    ("last_name", &["last name", "last", "name last"]),
    ("name_particle", &["particle"]),
    (
        "full_name",
        &["name", "full name", "contact name", "full", "contact"],
    ),
    ("email", &["email"]),
    ("phone", &["phone", "mobile", "phone number"]),
    ("company", &["company", "company name"]),
    ("account", &["account", "account name"]),
    (
        "job_title",
        &[
            "job title",
            "title",
            "position",
            "role",
            "job",
            "position title",
        ],
    ),
    ("website", &["website", "website address"]),
    ("notes", &["notes", "background"]),
    (
        "status",
        &[
            "status",
            "lead status",
            "type",
            "label",
            "customer status",
            "customer type",
        ],
    ),
    ("source", &["source", "lead source", "source lead"]),
    (
        "deal_value",
        &["deal value", "deal amount", "deal", "value", "amount"],
    ),
    (
        "last_contacted",
        &["last contact", "last contact date", "date last contact"],
    ),
    ("domain", &["domain", "company domain"]),
    ("industry", &["industry", "sector", "vertical"]),
    (
        "employees",
        &[
            "employees",
            "employee count",
            "headcount",
            "number employees",
        ],
    ),
    ("annual_revenue", &["annual revenue", "revenue"]),
    ("amount", &["amount", "deal amount", "value", "deal value"]),
    ("stage", &["status", "deal status", "pipeline status"]),
    (
        "close_date",
        &["close date", "closing date", "expected close date"],
    ),
    ("owner_email", &["owner", "owner email", "deal owner"]),
];

/// Address parts and the token patterns that name them.
pub(super) const ADDRESS_CONCEPTS: &[(&str, &[&str])] = &[
    (
        "street",
        &[
            "street",
            "address",
            "address 1",
            "address line 1",
            "line 1",
            "street 1",
            "house",
            "house number",
        ],
    ),
    (
        "street2",
        &["address 2", "address line 2", "line 2", "street 2"],
    ),
    ("city", &["city"]),
    ("state", &["state", "state code"]),
    ("zip", &["zip", "zip code"]),
    ("country", &["country", "country code"]),
];

/// Words that may stand beside a concept without changing it: groups, vendor prefixes, kinds,
/// numbering. Those marked as a group name which address a part belongs to.
const QUALIFIERS: &[&str] = &[
    "default",
    "primary",
    "main",
    "person",
    "contact",
    "customer",
    "client",
    "lead",
    "your",
    "my",
    "the",
    "of",
    "for",
    "do",
    "you",
    "what",
    "is",
    "with",
    "a",
    "in",
    "at",
    "to",
    "by",
    "de",
    "da",
    "di",
    "del",
    "della",
    "van",
    "von",
    "du",
    "i",
    "e",
    "y",
    "und",
    "et",
    "custom",
    "field",
    "value",
    "number",
    "code",
    "address",
    "info",
    "information",
    "detail",
    "current",
    "work",
    "home",
    "mobile",
    "other",
    "billing",
    "mailing",
    "shipping",
    "postal",
    "card",
    "1",
    "2",
    "3",
    "utc",
    "abbreviation",
    "iso",
    "name",
    "data",
    "date",
    "time",
    "label",
    "how",
    "did",
    "about",
    "this",
    "that",
    "us",
    "we",
    "our",
    "know",
    "like",
    "would",
    "else",
    "are",
    "be",
    "which",
    "where",
    "who",
    "when",
    "please",
    "enter",
    "if",
    "any",
    "has",
    "have",
    "from",
    "it",
    "does",
    "can",
    "an",
    "or",
    "and",
    "best",
    "describes",
    "tell",
    "event",
    "here",
    "optional",
];

/// Qualifiers that name an address group ("Home City" and "Work City" are different addresses).
pub(super) const ADDRESS_GROUPS: &[&str] = &[
    "home", "work", "other", "billing", "mailing", "shipping", "postal", "card", "default",
];

/// Words that say the column is something else than any field: a target whose pattern does not
/// contain one of these is ruled out when the header has it.
const BLOCKERS: &[&str] = &[
    "id",
    "fax",
    "owner",
    "manager",
    "created",
    "updated",
    "tags",
    "tag",
    "nickname",
    "middle",
    "total",
    "spent",
    "ticket",
    "order",
    "marketing",
    "consent",
    "tax",
    "social",
    "secondary",
    "birth",
    "gender",
    "next",
    "follow",
    "type",
    "prefix",
    "certified",
    "quantity",
    "price",
    "currency",
    "count",
    "group",
    "list",
    "lists",
    "category",
    "language",
    "timezone",
    "score",
    "rating",
    "paid",
    "payment",
    "invoice",
    "delinquent",
    "balance",
    "subscription",
    "plan",
    "last4",
    "brand",
    "exp",
    "expiry",
    "password",
    "ip",
    "device",
    "suffix",
    "initials",
    "yomi",
    "phonetic",
    "spouse",
    "children",
    "anniversary",
    "department",
    "assistant",
    "pager",
    "attendee",
    "open",
    "reason",
    "probability",
    "forecast",
    "messenger",
];

/// Words that give a phone's kind.
const PHONE_KINDS: &[(&str, &[&str])] = &[
    ("Mobile", &["mobile"]),
    ("Work", &["work"]),
    ("Home", &["home"]),
    ("Other", &["other"]),
];

/// Whether a word belongs to the vocabulary of concepts (so it is not read as an abbreviation).
pub(super) fn is_vocabulary(word: &str) -> bool {
    QUALIFIERS.contains(&word)
        || BLOCKERS.contains(&word)
        || CONCEPTS
            .iter()
            .chain(ADDRESS_CONCEPTS)
            .any(|(_, patterns)| patterns.iter().any(|p| p.split(' ').any(|w| w == word)))
}

/// The concept of a field: its slug when the table knows it, else one implied by its type.
pub(super) fn concept(field: &FieldDef) -> Option<&'static str> {
    if let Some((c, _)) = CONCEPTS.iter().find(|(c, _)| *c == field.slug) {
        return Some(c);
    }
    match field.field_type {
        FieldType::Email => Some("email"),
        FieldType::Phone => Some("phone"),
        FieldType::Url => Some("website"),
        _ => None,
    }
}

/// The token patterns of a concept.
pub(super) fn patterns(concept: &str) -> Vec<Vec<String>> {
    CONCEPTS
        .iter()
        .find(|(c, _)| *c == concept)
        .map(|(_, ps)| split_patterns(ps))
        .unwrap_or_default()
}

pub(super) fn split_patterns(patterns: &[&str]) -> Vec<Vec<String>> {
    patterns
        .iter()
        .map(|p| p.split(' ').map(str::to_string).collect())
        .collect()
}

/// How well a pattern names the header, 0 when it does not: all the pattern's words must be in
/// the header; each header word left over costs 0.02 if it is a qualifier and 0.15 otherwise; a
/// blocking word left over rules the pattern out.
pub(super) fn pattern_score(header: &[String], pattern: &[String]) -> f64 {
    let mut rest: Vec<&String> = header.iter().collect();
    for word in pattern {
        match rest.iter().position(|h| *h == word) {
            Some(at) => {
                rest.remove(at);
            }
            None => return 0.0,
        }
    }
    let mut score: f64 = 0.97;
    for word in rest {
        if BLOCKERS.contains(&word.as_str()) {
            return 0.0;
        }
        score -= if QUALIFIERS.contains(&word.as_str()) {
            0.02
        } else {
            0.15
        };
    }
    score.max(0.0)
}

/// The best score of any of `patterns` for the header.
pub(super) fn best_score(header: &[String], patterns: &[Vec<String>]) -> f64 {
    patterns
        .iter()
        .map(|p| pattern_score(header, p))
        .fold(0.0, f64::max)
}

/// Whether the header has a word that rules every field out (ids, faxes, owners…).
pub(super) fn blocked(header: &[String]) -> bool {
    header.iter().any(|w| BLOCKERS.contains(&w.as_str()))
}

/// Whether the header says nothing but qualifiers and numbering ("Primary", "Column A",
/// "Field 5", "Unnamed: 8", "col11"): a placeholder whose values must decide.
pub(super) fn is_placeholder(header: &[String]) -> bool {
    const PLACEHOLDERS: &[&str] = &[
        "column", "col", "field", "unnamed", "untitled", "f", "c", "var",
    ];
    header.is_empty()
        || header.iter().all(|w| {
            PLACEHOLDERS.contains(&w.as_str())
                || w.chars().all(|c| c.is_ascii_digit())
                || (w.len() == 1 && w.chars().all(|c| c.is_ascii_lowercase()))
        }) && header
            .iter()
            .any(|w| PLACEHOLDERS.contains(&w.as_str()) || w.len() == 1)
}

/// The phone kind the header's words give, if the field allows it.
pub(super) fn phone_kind(header: &[String], field: &FieldDef) -> Option<String> {
    let allowed = field.phone_types();
    header.iter().find_map(|word| {
        PHONE_KINDS.iter().find_map(|(kind, words)| {
            (words.contains(&word.as_str()) && allowed.iter().any(|a| a.eq_ignore_ascii_case(kind)))
                .then(|| kind.to_string())
        })
    })
}

/// The phone kind a label value names ("mobile", "Work", "cell", "Büro"), if any.
pub(super) fn phone_kind_of_label(value: &str) -> Option<&'static str> {
    let tokens = super::synonyms::canonical_tokens(&super::normalize_header(value));
    tokens.iter().find_map(|word| {
        PHONE_KINDS
            .iter()
            .find(|(_, words)| words.contains(&word.as_str()))
            .map(|(kind, _)| *kind)
    })
}

/// The address group of a header: its group qualifiers, in order ("work", "billing"…).
pub(super) fn address_group(header: &[String]) -> Vec<String> {
    header
        .iter()
        .filter(|w| ADDRESS_GROUPS.contains(&w.as_str()))
        .cloned()
        .collect()
}
