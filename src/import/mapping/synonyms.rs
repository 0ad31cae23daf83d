//! The vocabulary of mapping suggestions: how the words of a header in English, German, French,
//! Spanish, Italian, Portuguese, Dutch and Polish (and the abbreviations and run-together forms
//! that exports use) read as a few canonical English words.
//!
//! In: the words of a normalised header ([`super::normalize_header`]). Out: canonical tokens
//! ([`canonical_tokens`]): "Telefon służbowy" → `phone work`, "Lst Cntct" → `last contact`,
//! "E-mailadres" → `email`. Words the lexicon does not know are kept as they are (they may be
//! English already), or read as the one canonical word they abbreviate (a skeleton such as "twn"
//! or "cmnts"). What the tokens mean for a module is `concepts`' business.

use std::collections::HashMap;
use std::sync::LazyLock;

use super::normalize_header;

/// Phrases (one to three words, written as in headers) and the canonical words they stand for.
/// Grouped by language; within a group, abbreviations and run-together forms after the words.
const LEXICON: &[(&str, &str)] = &[
    // English: run-together forms, abbreviations, and words that mean a canonical one.
    ("firstname", "first name"),
    ("fname", "first name"),
    ("fn", "first name"),
    ("given", "first"),
    ("forename", "first name"),
    ("christian name", "first name"),
    ("lastname", "last name"),
    ("lname", "last name"),
    ("ln", "last name"),
    ("surname", "last name"),
    ("family", "last"),
    ("fullname", "full name"),
    ("displayname", "full name"),
    ("display", "full"),
    ("e mail", "email"),
    ("emails", "email"),
    ("mail", "email"),
    ("emailaddress", "email"),
    ("e mail address", "email"),
    ("mailadres", "email"),
    ("emailadres", "email"),
    ("e mailadres", "email"),
    ("telephone", "phone"),
    ("tel", "phone"),
    ("tele", "phone"),
    ("ph", "phone"),
    ("phones", "phone"),
    ("phonenumber", "phone"),
    ("landline", "phone"),
    ("mob", "mobile"),
    ("mobilephone", "mobile"),
    ("cell", "mobile"),
    ("cellphone", "mobile"),
    ("cellular", "mobile"),
    ("sms", "mobile"),
    ("wrk", "work"),
    ("bus", "work"),
    ("business", "work"),
    ("office", "work"),
    ("direct", "work"),
    ("hm", "home"),
    ("private", "home"),
    ("personal", "home"),
    ("co", "company"),
    ("cmpny", "company"),
    ("companies", "company"),
    ("org", "company"),
    ("organization", "company"),
    ("organisation", "company"),
    ("organizations", "company"),
    ("employer", "company"),
    ("firm", "company"),
    ("business name", "company"),
    ("accounts", "account"),
    ("acct", "account"),
    ("acc", "account"),
    ("jobtitle", "job title"),
    ("pos", "position"),
    ("designation", "position"),
    ("occupation", "position"),
    ("profession", "position"),
    ("web", "website"),
    ("web site", "website"),
    ("web page", "website"),
    ("webpage", "website"),
    ("homepage", "website"),
    ("home page", "website"),
    ("site", "website"),
    ("www", "website"),
    ("url", "website"),
    ("urls", "website"),
    ("note", "notes"),
    ("comment", "notes"),
    ("comments", "notes"),
    ("cmnts", "notes"),
    ("remarks", "notes"),
    ("remark", "notes"),
    ("description", "notes"),
    ("memo", "notes"),
    ("details", "notes"),
    ("anything else", "notes"),
    ("stat", "status"),
    ("sts", "status"),
    ("stage", "status"),
    ("lifecycle", "status"),
    ("src", "source"),
    ("origin", "source"),
    ("channel", "source"),
    ("referral", "source"),
    ("referred", "source"),
    ("hear", "source"),
    ("heard", "source"),
    ("amt", "amount"),
    ("usd", "amount"),
    ("eur", "amount"),
    ("size", "value"),
    ("worth", "value"),
    ("deals", "deal"),
    ("opportunity", "deal"),
    ("contacted", "contact"),
    ("touch", "contact"),
    ("touched", "contact"),
    ("interaction", "contact"),
    ("activity", "contact"),
    ("engagement", "contact"),
    ("lst", "last"),
    ("latest", "last"),
    ("recent", "last"),
    ("most recent", "last"),
    ("addr", "address"),
    ("adr", "address"),
    ("address1", "address 1"),
    ("address2", "address 2"),
    ("line1", "line 1"),
    ("line2", "line 2"),
    ("street1", "street 1"),
    ("street2", "street 2"),
    ("st", "street"),
    ("str", "street"),
    ("house number", "house"),
    ("house no", "house"),
    ("twn", "city"),
    ("town", "city"),
    ("locality", "city"),
    ("suburb", "city"),
    ("province", "state"),
    ("region", "state"),
    ("county", "state"),
    ("prov", "state"),
    ("zipcode", "zip"),
    ("postcode", "zip"),
    ("postal code", "zip"),
    ("post code", "zip"),
    ("postal", "zip"),
    ("pin code", "zip"),
    ("nation", "country"),
    ("ctry", "country"),
    ("cntry", "country"),
    ("mgr", "manager"),
    ("owned", "owner"),
    ("assigned", "owner"),
    ("rep", "owner"),
    ("no", "number"),
    ("nr", "number"),
    ("num", "number"),
    ("identifier", "id"),
    ("uuid", "id"),
    ("guid", "id"),
    ("ref", "id"),
    ("created", "created"),
    ("creation", "created"),
    ("modified", "updated"),
    ("timestamp", "created"),
    ("salutation", "prefix"),
    ("honorific", "prefix"),
    ("birthday", "birth"),
    ("birthdate", "birth"),
    ("dob", "birth"),
    ("linkedin", "social"),
    ("twitter", "social"),
    ("facebook", "social"),
    ("instagram", "social"),
    ("xing", "social"),
    ("skype", "social"),
    ("vat", "tax"),
    ("ein", "tax"),
    ("ssn", "tax"),
    ("alternate", "secondary"),
    ("alt", "secondary"),
    ("additional", "secondary"),
    ("opt out", "consent"),
    ("optout", "consent"),
    ("unsubscribe", "consent"),
    ("do not", "consent"),
    ("dnc", "consent"),
    ("gdpr", "consent"),
    ("biz", "work"),
    ("direct dial", "phone work"),
    ("cp", "zip"),
    ("dept", "department"),
    ("opt in", "consent"),
    ("optin", "consent"),
    ("subscribed", "consent"),
    ("unsubscribed", "consent"),
    ("accepts", "consent"),
    // German.
    ("vorname", "first name"),
    ("rufname", "first name"),
    ("nachname", "last name"),
    ("familienname", "last name"),
    ("zuname", "last name"),
    ("namenszusatz", "particle"),
    ("vollstaendiger name", "full name"),
    ("e mail adresse", "email"),
    ("email adresse", "email"),
    ("emailadresse", "email"),
    ("adresse", "address"),
    ("telefon", "phone"),
    ("telefonnummer", "phone"),
    ("rufnummer", "phone"),
    ("festnetz", "phone"),
    ("handy", "mobile"),
    ("mobil", "mobile"),
    ("mobiltelefon", "mobile"),
    ("mobilnummer", "mobile"),
    ("geschaeftlich", "work"),
    ("dienstlich", "work"),
    ("buero", "work"),
    ("privat", "home"),
    ("zuhause", "home"),
    ("firma", "company"),
    ("firmenname", "company"),
    ("unternehmen", "company"),
    ("berufsbezeichnung", "position"),
    ("funktion", "position"),
    ("stelle", "position"),
    ("titel", "title"),
    ("webseite", "website"),
    ("internetseite", "website"),
    ("bemerkungen", "notes"),
    ("bemerkung", "notes"),
    ("notizen", "notes"),
    ("notiz", "notes"),
    ("anmerkungen", "notes"),
    ("kommentar", "notes"),
    ("beschreibung", "notes"),
    ("zustand", "status"),
    ("quelle", "source"),
    ("herkunft", "source"),
    ("kanal", "source"),
    ("wert", "value"),
    ("betrag", "amount"),
    ("umsatz", "revenue"),
    ("auftragswert", "deal value"),
    ("letzter kontakt", "last contact"),
    ("letzter", "last"),
    ("letzte", "last"),
    ("kontakt", "contact"),
    ("strasse", "street"),
    ("hausnummer", "house"),
    ("hausnr", "house"),
    ("plz", "zip"),
    ("postleitzahl", "zip"),
    ("ort", "city"),
    ("stadt", "city"),
    ("wohnort", "city"),
    ("bundesland", "state"),
    ("land", "country"),
    ("anrede", "prefix"),
    ("abteilung", "department"),
    ("geburtstag", "birth"),
    ("geburtsdatum", "birth"),
    ("kundennummer", "id"),
    ("steuernummer", "tax"),
    ("ustid", "tax"),
    ("ust id", "tax"),
    ("inhaber", "owner"),
    ("betreuer", "owner"),
    ("datum", "date"),
    // French.
    ("prenom", "first name"),
    ("nom de famille", "last name"),
    ("nom", "last name"),
    ("nom complet", "full name"),
    ("courriel", "email"),
    ("adresse e mail", "email"),
    ("adresse email", "email"),
    ("adresse electronique", "email"),
    ("telephone portable", "mobile"),
    ("portable", "mobile"),
    ("fixe", "phone"),
    ("bureau", "work"),
    ("travail", "work"),
    ("professionnel", "work"),
    ("domicile", "home"),
    ("maison", "home"),
    ("societe", "company"),
    ("entreprise", "company"),
    ("raison sociale", "company"),
    ("poste", "position"),
    ("fonction", "position"),
    ("titre", "title"),
    ("site web", "website"),
    ("site internet", "website"),
    ("remarques", "notes"),
    ("commentaires", "notes"),
    ("statut", "status"),
    ("etape", "status"),
    ("origine", "source"),
    ("montant", "amount"),
    ("valeur", "value"),
    ("chiffre d affaires", "revenue"),
    ("dernier contact", "last contact"),
    ("dernier", "last"),
    ("derniere", "last"),
    ("rue", "street"),
    ("complement d adresse", "address 2"),
    ("code postal", "zip"),
    ("ville", "city"),
    ("commune", "city"),
    ("etat", "state"),
    ("departement", "state"),
    ("pays", "country"),
    ("civilite", "prefix"),
    ("date de naissance", "birth"),
    ("siret", "tax"),
    ("siren", "tax"),
    // Spanish.
    ("nombre", "first name"),
    ("nombre de pila", "first name"),
    ("apellido", "last name"),
    ("apellidos", "last name"),
    ("nombre completo", "full name"),
    ("correo", "email"),
    ("correo electronico", "email"),
    ("telefono", "phone"),
    ("movil", "mobile"),
    ("celular", "mobile"),
    ("trabajo", "work"),
    ("oficina", "work"),
    ("casa", "home"),
    ("particular", "home"),
    ("empresa", "company"),
    ("compania", "company"),
    ("razon social", "company"),
    ("cargo", "position"),
    ("puesto", "position"),
    ("sitio web", "website"),
    ("pagina web", "website"),
    ("notas", "notes"),
    ("comentarios", "notes"),
    ("observaciones", "notes"),
    ("estado", "status"),
    ("etapa", "status"),
    ("fuente", "source"),
    ("origen", "source"),
    ("importe", "amount"),
    ("monto", "amount"),
    ("ultimo contacto", "last contact"),
    ("ultimo", "last"),
    ("ultima", "last"),
    ("contacto", "contact"),
    ("direccion", "address"),
    ("calle", "street"),
    ("codigo postal", "zip"),
    ("ciudad", "city"),
    ("localidad", "city"),
    ("municipio", "city"),
    ("provincia", "state"),
    ("pais", "country"),
    ("fecha", "date"),
    ("nif", "tax"),
    ("fijo", "phone"),
    ("departamento", "department"),
    ("cif", "tax"),
    ("rfc", "tax"),
    // Italian.
    ("nome", "first name"),
    ("cognome", "last name"),
    ("nome e cognome", "full name"),
    ("nominativo", "full name"),
    ("posta elettronica", "email"),
    ("pec", "certified"),
    ("cellulare", "mobile"),
    ("telefono cellulare", "mobile"),
    ("ufficio", "work"),
    ("lavoro", "work"),
    ("abitazione", "home"),
    ("azienda", "company"),
    ("ditta", "company"),
    ("ragione sociale", "company"),
    ("ruolo", "position"),
    ("mansione", "position"),
    ("qualifica", "position"),
    ("sito", "website"),
    ("sito web", "website"),
    ("commenti", "notes"),
    ("stato", "status"),
    ("fase", "status"),
    ("fonte", "source"),
    ("provenienza", "source"),
    ("valore", "value"),
    ("importo", "amount"),
    ("trattativa", "deal"),
    ("ultimo contatto", "last contact"),
    ("contatto", "contact"),
    ("indirizzo", "address"),
    ("via", "street"),
    ("cap", "zip"),
    ("citta", "city"),
    ("comune", "city"),
    ("paese", "country"),
    ("nazione", "country"),
    ("partita iva", "tax"),
    ("fisso", "phone"),
    ("regione", "state"),
    ("reparto", "department"),
    ("data di nascita", "birth"),
    ("codice fiscale", "tax"),
    ("iva", "tax"),
    // Portuguese.
    ("nome completo", "full name"),
    ("sobrenome", "last name"),
    ("apelido", "last name"),
    ("primeiro nome", "first name"),
    ("telemovel", "mobile"),
    ("telefone", "phone"),
    ("comercial", "work"),
    ("residencial", "home"),
    ("organizacao", "company"),
    ("funcao", "position"),
    ("observacoes", "notes"),
    ("observacao", "notes"),
    ("anotacoes", "notes"),
    ("situacao", "status"),
    ("origem", "source"),
    ("valor", "value"),
    ("negocio", "deal"),
    ("endereco", "address"),
    ("logradouro", "street"),
    ("rua", "street"),
    ("numero", "number"),
    ("complemento", "address 2"),
    ("bairro", "address 2"),
    ("cep", "zip"),
    ("cidade", "city"),
    ("uf", "state"),
    ("cpf", "tax"),
    ("fixo", "phone"),
    ("data de nascimento", "birth"),
    ("cnpj", "tax"),
    ("data", "date"),
    // Dutch.
    ("voornaam", "first name"),
    ("roepnaam", "first name"),
    ("achternaam", "last name"),
    ("tussenvoegsel", "particle"),
    ("volledige naam", "full name"),
    ("naam", "name"),
    ("telefoon", "phone"),
    ("telefoonnummer", "phone"),
    ("mobiel", "mobile"),
    ("mobiele", "mobile"),
    ("zakelijk", "work"),
    ("werk", "work"),
    ("prive", "home"),
    ("thuis", "home"),
    ("bedrijf", "company"),
    ("bedrijfsnaam", "company"),
    ("organisatie", "company"),
    ("functie", "position"),
    ("functietitel", "position"),
    ("opmerkingen", "notes"),
    ("opmerking", "notes"),
    ("notities", "notes"),
    ("bron", "source"),
    ("waarde", "value"),
    ("bedrag", "amount"),
    ("laatste contact", "last contact"),
    ("laatste", "last"),
    ("straat", "street"),
    ("straatnaam", "street"),
    ("huisnummer", "house"),
    ("plaats", "city"),
    ("woonplaats", "city"),
    ("stad", "city"),
    ("provincie", "state"),
    ("kvk", "tax"),
    ("geboortedatum", "birth"),
    ("aanhef", "prefix"),
    ("afdeling", "department"),
    ("btw", "tax"),
    ("nummer", "number"),
    // Polish.
    ("imie", "first name"),
    ("nazwisko", "last name"),
    ("imie i nazwisko", "full name"),
    ("adres e mail", "email"),
    ("adres email", "email"),
    ("adres", "address"),
    ("telefon komorkowy", "mobile"),
    ("komorkowy", "mobile"),
    ("komorka", "mobile"),
    ("sluzbowy", "work"),
    ("domowy", "home"),
    ("prywatny", "home"),
    ("nazwa firmy", "company"),
    ("stanowisko", "position"),
    ("uwagi", "notes"),
    ("notatki", "notes"),
    ("opis", "notes"),
    ("zrodlo", "source"),
    ("wartosc", "value"),
    ("kwota", "amount"),
    ("transakcji", "deal"),
    ("transakcja", "deal"),
    ("ostatniego", "last"),
    ("ostatni", "last"),
    ("kontaktu", "contact"),
    ("ulica", "street"),
    ("kod pocztowy", "zip"),
    ("miejscowosc", "city"),
    ("miasto", "city"),
    ("wojewodztwo", "state"),
    ("kraj", "country"),
    ("klienta", "customer"),
    ("klient", "customer"),
    ("nip", "tax"),
    ("numer domu", "house"),
    ("nr domu", "house"),
    ("data urodzenia", "birth"),
    ("plec", "gender"),
    ("dzial", "department"),
    ("regon", "tax"),
    ("pesel", "tax"),
];

/// Canonical words that abbreviations are read against (a header word that is none of these and
/// not in the lexicon may be an abbreviation of exactly one of them).
const CANONICAL_WORDS: &[&str] = &[
    "first",
    "last",
    "name",
    "full",
    "email",
    "phone",
    "mobile",
    "work",
    "home",
    "company",
    "account",
    "title",
    "position",
    "role",
    "job",
    "website",
    "notes",
    "status",
    "source",
    "deal",
    "value",
    "amount",
    "contact",
    "address",
    "street",
    "city",
    "state",
    "zip",
    "country",
    "owner",
    "manager",
    "number",
    "primary",
    "secondary",
    "other",
    "customer",
    "comments",
    "organization",
    "description",
];

static LEXICON_TABLE: LazyLock<HashMap<String, Vec<String>>> = LazyLock::new(|| {
    LEXICON
        .iter()
        .map(|(phrase, canonical)| {
            (
                normalize_header(phrase),
                canonical.split(' ').map(str::to_string).collect(),
            )
        })
        .collect()
});

/// The most words of a header that are read.
const MAX_HEADER_WORDS: usize = 16;

/// The longest phrase in [`LEXICON`], in words.
const MAX_PHRASE: usize = 4;

/// The canonical tokens of a normalised header: lexicon phrases (longest first) replaced, digits
/// split from letters ("address1" → `address 1`), other words kept or read as abbreviations.
pub(super) fn canonical_tokens(normalised: &str) -> Vec<String> {
    // A header is a few words; a hostile one is read no further than that.
    let words: Vec<String> = normalised
        .split(' ')
        .filter(|w| !w.is_empty())
        .take(MAX_HEADER_WORDS)
        .flat_map(split_digits)
        .collect();
    let mut out = Vec::new();
    let mut i = 0;
    'words: while i < words.len() {
        for len in (1..=MAX_PHRASE.min(words.len() - i)).rev() {
            let phrase = words[i..i + len].join(" ");
            if let Some(canonical) = LEXICON_TABLE.get(&phrase) {
                out.extend(canonical.iter().cloned());
                i += len;
                continue 'words;
            }
        }
        // "E-mial" splits into "e" and "mial": read the pair as one word when that is known.
        if words[i].len() == 1
            && let Some(next) = words.get(i + 1)
        {
            let joined = format!("{}{next}", words[i]);
            if let Some(canonical) = LEXICON_TABLE
                .get(&joined)
                .cloned()
                .or_else(|| abbreviation_of(&joined))
            {
                out.extend(canonical);
                i += 2;
                continue;
            }
        }
        let word = &words[i];
        match abbreviation_of(word) {
            Some(canonical) => out.extend(canonical),
            None => out.push(word.clone()),
        }
        i += 1;
    }
    out
}

/// "address1" → ["address1"] when the lexicon knows it whole, else ["address", "1"].
fn split_digits(word: &str) -> Vec<String> {
    if LEXICON_TABLE.contains_key(word) || word.chars().all(|c| c.is_ascii_digit()) {
        return vec![word.to_string()];
    }
    let mut parts: Vec<String> = Vec::new();
    for c in word.chars() {
        match parts.last_mut() {
            Some(last)
                if last.chars().last().map(|p| p.is_ascii_digit()) == Some(c.is_ascii_digit()) =>
            {
                last.push(c)
            }
            _ => parts.push(c.to_string()),
        }
    }
    parts
}

/// What an unknown word abbreviates or misspells: one lexicon entry or canonical word it is one
/// edit away from (five letters or more on both sides, so short words are never "corrected"), or
/// the one canonical word it is a same-initial subsequence of ("cntct" → contact, "twn" → town).
fn abbreviation_of(word: &str) -> Option<Vec<String>> {
    if word.len() < 3 || word.chars().any(|c| c.is_ascii_digit()) || is_known(word) {
        return None;
    }
    if word.len() >= 4 {
        let near: Vec<&Vec<String>> = LEXICON_TABLE
            .iter()
            .filter(|(k, _)| !k.contains(' ') && k.len() >= 5 && strsim::osa_distance(k, word) == 1)
            .map(|(_, v)| v)
            .collect();
        if let [only] = near[..] {
            return Some(only.clone());
        }
        let near: Vec<&&str> = CANONICAL_WORDS
            .iter()
            .filter(|k| k.len() >= 5 && strsim::osa_distance(k, word) == 1)
            .collect();
        if let [only] = near[..] {
            return Some(vec![only.to_string()]);
        }
    }
    let vowels = word.chars().filter(|c| "aeiouy".contains(*c)).count();
    if vowels * 3 > word.len() {
        return None;
    }
    let matches: Vec<&&str> = CANONICAL_WORDS
        .iter()
        .filter(|k| k.len() > word.len() && is_initial_subsequence(word, k))
        .collect();
    match matches[..] {
        [only] => Some(canonical_tokens(only)),
        _ => None,
    }
}

fn is_known(word: &str) -> bool {
    LEXICON_TABLE.contains_key(word)
        || CANONICAL_WORDS.contains(&word)
        || super::concepts::is_vocabulary(word)
}

/// Whether `short` starts like `long` and its letters appear in `long` in order.
fn is_initial_subsequence(short: &str, long: &str) -> bool {
    if short.chars().next() != long.chars().next() {
        return false;
    }
    let mut rest = long.chars();
    short.chars().all(|c| rest.any(|l| l == c))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens(header: &str) -> String {
        canonical_tokens(&normalize_header(header)).join(" ")
    }

    #[test]
    fn languages_and_abbreviations_read_as_canonical_words() {
        assert_eq!(tokens("Telefon służbowy"), "phone work");
        assert_eq!(tokens("Lst Cntct"), "last contact");
        assert_eq!(tokens("E-mailadres"), "email");
        assert_eq!(tokens("Cmnts"), "notes");
        assert_eq!(tokens("Twn"), "city");
        assert_eq!(tokens("E-mial"), "email");
        assert_eq!(tokens("Lnme"), "last name");
        assert_eq!(
            tokens("Default Address Address1"),
            "default address address 1"
        );
        assert_eq!(tokens("Data ostatniego kontaktu"), "date last contact");
        assert_eq!(tokens("Mob #"), "mobile");
        assert_eq!(tokens("Imię"), "first name");
    }
}
