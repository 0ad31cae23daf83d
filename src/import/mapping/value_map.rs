//! Value maps for select fields: which option of the field each of a column's own words stands
//! for ("Closed Won" → customer, "Perso" → churned, "cust" → customer).
//!
//! In: a select field and the distinct values of a column (at most [`MAX_DISTINCT`]). Out: for
//! each value, the option it names, or none when unsure. Evidence, in order: the option itself
//! (case and accents folded); a phrase of the option's meaning in one of the languages the header
//! vocabulary knows; a single word of one meaning only; an abbreviation or a typo of the option
//! or one of its words. A value whose words point at two options gets none.

use crate::schema::FieldDef;

use super::normalize_header;

/// The most distinct values a suggestion lists for one column.
pub const MAX_DISTINCT: usize = 50;

/// Groups of words of one meaning, in the languages of the header vocabulary. An option takes
/// the group its own name is in; phrases are matched whole before single words.
const MEANINGS: &[&[&str]] = &[
    &[
        "lead",
        "leads",
        "prospect",
        "prospects",
        "prospective",
        "potential",
        "potential customer",
        "prospective customer",
        "new",
        "new lead",
        "open",
        "contacted",
        "qualified",
        "sales qualified lead",
        "marketing qualified lead",
        "mql",
        "sql",
        "opportunity",
        "interested",
        "nurture",
        "nurturing",
        "warm",
        "hot",
        "cold",
        "interessent",
        "potenziale",
        "potencial",
        "potencjalny",
        "interessado",
        "prospecto",
        "nuovo",
        "novo",
        "nouveau",
        "nuevo",
        "in trattativa",
        "negotiation",
        "in negotiation",
    ],
    &[
        "customer",
        "customers",
        "client",
        "clients",
        "cliente",
        "clienti",
        "klient",
        "klienci",
        "kunde",
        "kunden",
        "klant",
        "current customer",
        "existing customer",
        "paying customer",
        "closed won",
        "won",
        "paying",
        "buyer",
        "purchaser",
        "signed",
    ],
    &[
        "active",
        "attivo",
        "ativo",
        "activo",
        "actif",
        "aktiv",
        "aktywny",
        "actief",
        "engaged",
        "in progress",
        "ongoing",
        "enabled",
    ],
    &[
        "churned",
        "churn",
        "lost",
        "closed lost",
        "former customer",
        "ex customer",
        "past customer",
        "lost customer",
        "cancelled",
        "canceled",
        "inactive",
        "inativo",
        "inattivo",
        "inactivo",
        "inactif",
        "inaktiv",
        "nieaktywny",
        "perso",
        "persa",
        "perdido",
        "perdu",
        "verloren",
        "utracony",
        "former",
        "lapsed",
        "disqualified",
    ],
];

/// The option each value names, in the order of `values`.
pub(super) fn suggest_value_map(
    field: &FieldDef,
    values: &[String],
) -> Vec<(String, Option<String>)> {
    let options: Vec<(String, &String)> = field
        .options
        .iter()
        .map(|o| (normalize_header(o), o))
        .collect();
    values
        .iter()
        .take(MAX_DISTINCT)
        .map(|v| (v.clone(), option_for(&options, v).map(str::to_string)))
        .collect()
}

fn option_for<'o>(options: &[(String, &'o String)], value: &str) -> Option<&'o str> {
    let folded = normalize_header(value);
    if folded.is_empty() {
        return None;
    }
    if let Some((_, o)) = options.iter().find(|(n, _)| *n == folded) {
        return Some(o);
    }
    // The meaning groups that hold an option, by option.
    let groups: Vec<(usize, &[&str])> = options
        .iter()
        .enumerate()
        .filter_map(|(i, (n, _))| {
            MEANINGS
                .iter()
                .find(|g| g.iter().any(|w| normalize_header(w) == *n))
                .map(|g| (i, *g))
        })
        .collect();
    let pick = |hits: Vec<usize>| -> Option<&'o str> {
        let mut hits = hits;
        hits.dedup();
        match hits[..] {
            [only] => Some(options[only].1.as_str()),
            _ => None,
        }
    };
    // The whole value is a word or phrase of one meaning.
    let whole: Vec<usize> = groups
        .iter()
        .filter(|(_, g)| g.iter().any(|w| normalize_header(w) == folded))
        .map(|(i, _)| *i)
        .collect();
    if !whole.is_empty() {
        return pick(whole);
    }
    // One of its words is (a typo or an abbreviation of) a word of one meaning only.
    let mut hits = Vec::new();
    for word in folded.split(' ') {
        for (i, group) in &groups {
            let matched = group.iter().any(|w| {
                let w = normalize_header(w);
                !w.contains(' ') && (w == word || near(word, &w))
            }) || near(word, &options[*i].0);
            if matched {
                hits.push(*i);
            }
        }
    }
    hits.sort_unstable();
    pick(hits)
}

/// A typo (one edit, words of five letters or more) or an abbreviation (the first three letters
/// or more of a longer word).
fn near(word: &str, known: &str) -> bool {
    (word.len() >= 5 && known.len() >= 5 && strsim::osa_distance(word, known) == 1)
        || (word.len() >= 3 && known.len() > word.len() && known.starts_with(word))
}

/// The share of non-empty sample rows whose value the map names an option for.
pub(super) fn mapped_share(map: &[(String, Option<String>)], values: &[&str]) -> f64 {
    let mut total = 0usize;
    let mut mapped = 0usize;
    for v in values.iter().map(|v| v.trim()).filter(|v| !v.is_empty()) {
        total += 1;
        if map
            .iter()
            .any(|(source, option)| source == v && option.is_some())
        {
            mapped += 1;
        }
    }
    if total == 0 {
        0.0
    } else {
        mapped as f64 / total as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::FieldType;

    fn status() -> FieldDef {
        let mut f = FieldDef::of_type("status", FieldType::Select);
        f.options = ["lead", "active", "customer", "churned"]
            .map(String::from)
            .to_vec();
        f
    }

    fn map(values: &[&str]) -> Vec<Option<String>> {
        let values: Vec<String> = values.iter().map(|v| v.to_string()).collect();
        suggest_value_map(&status(), &values)
            .into_iter()
            .map(|(_, o)| o)
            .collect()
    }

    #[test]
    fn own_words_map_to_options_and_unsure_ones_to_none() {
        let got = map(&[
            "Contacted",
            "Qualified",
            "Closed Won",
            "Perso",
            "cust",
            "Current Customer",
            "Potential Customer",
            "Former Customer",
            "Bad Fit",
            "LEAD",
            "Ativo",
            "past_due",
        ]);
        let want = [
            Some("lead"),
            Some("lead"),
            Some("customer"),
            Some("churned"),
            Some("customer"),
            Some("customer"),
            Some("lead"),
            Some("churned"),
            None,
            Some("lead"),
            Some("active"),
            None,
        ];
        assert_eq!(got, want.map(|o| o.map(String::from)).to_vec());
    }
}
