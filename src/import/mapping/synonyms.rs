//! The synonym table of mapping suggestions: the headers that name a concept (a field slug such
//! as `first_name`, or `email`, `phone`, `website` for fields of those types) in the exports of
//! common CRMs and in German, French and Spanish spreadsheets; address parts with their prefixes
//! ("Billing City"); the words that give a phone's kind.
//!
//! In: normalised headers ([`normalize_header`]). Out: concepts, address parts and phone kinds.
//! The tables are written as the headers appear and normalised once, when first used, so a
//! header and a synonym always compare in the same form.

use std::collections::HashMap;
use std::sync::LazyLock;

use super::normalize_header;
use crate::schema::{FieldDef, FieldType};

/// Header synonyms per concept, from the exports of Google Contacts, Outlook, LinkedIn, HubSpot,
/// Salesforce, Mailchimp, Pipedrive and Zoho, and German, French and Spanish spreadsheets. Written
/// as they appear; normalised when the table is built.
const SYNONYMS: &[(&str, &[&str])] = &[
    (
        "first_name",
        &[
            "first name",
            "firstname",
            "given name",
            "given_name",
            "fname",
            "first",
            "forename",
            "vorname",
            "prenom",
            "prénom",
            "nombre",
            "nombre de pila",
            "Contact First Name",
            "Given Name Yomi",
        ],
    ),
    (
        "last_name",
        &[
            "last name",
            "lastname",
            "surname",
            "family name",
            "family_name",
            "lname",
            "last",
            "nachname",
            "familienname",
            "nom de famille",
            "apellido",
            "apellidos",
            "Contact Last Name",
        ],
    ),
    (
        "full_name",
        &[
            "name",
            "full name",
            "fullname",
            "contact name",
            "contact",
            "display name",
            "person",
            "person name",
            "customer name",
            "vollstaendiger name",
            "nom complet",
            "nombre completo",
        ],
    ),
    (
        "email",
        &[
            "email",
            "e-mail",
            "email address",
            "e-mail address",
            "E-mail 1 - Value",
            "E-mail Address",
            "Primary Email",
            "Email Address 1",
            "mail",
            "emailaddress",
            "work email",
            "Person - Email",
            "e-mail-adresse",
            "email adresse",
            "courriel",
            "adresse e-mail",
            "adresse email",
            "correo",
            "correo electronico",
            "correo electrónico",
        ],
    ),
    (
        "phone",
        &[
            "phone",
            "phone number",
            "telephone",
            "tel",
            "Phone 1 - Value",
            "Primary Phone",
            "Business Phone",
            "Mobile Phone",
            "Home Phone",
            "mobile",
            "cell",
            "cell phone",
            "mobile number",
            "Person - Phone",
            "telefon",
            "telefonnummer",
            "handy",
            "mobiltelefon",
            "telephone portable",
            "téléphone",
            "portable",
            "numero de telephone",
            "teléfono",
            "telefono",
            "movil",
            "móvil",
            "celular",
        ],
    ),
    (
        "company",
        &[
            "company",
            "company name",
            "organization",
            "organisation",
            "organization name",
            "Organization 1 - Name",
            "employer",
            "firm",
            "business",
            "Account Name",
            "Organization - Name",
            "firma",
            "unternehmen",
            "entreprise",
            "societe",
            "société",
            "empresa",
            "compania",
            "compañía",
        ],
    ),
    (
        "job_title",
        &[
            "job title",
            "title",
            "position",
            "role",
            "Organization 1 - Title",
            "job",
            "jobtitle",
            "designation",
            "Person - Job title",
            "berufsbezeichnung",
            "position titel",
            "titel",
            "poste",
            "fonction",
            "titre",
            "cargo",
            "puesto",
        ],
    ),
    (
        "website",
        &[
            "website",
            "web site",
            "web page",
            "url",
            "homepage",
            "home page",
            "Website 1 - Value",
            "Web Page",
            "site",
            "site web",
            "webseite",
            "internetseite",
            "sitio web",
            "pagina web",
        ],
    ),
    (
        "notes",
        &[
            "notes",
            "note",
            "comments",
            "comment",
            "description",
            "remarks",
            "bemerkungen",
            "notizen",
            "kommentar",
            "remarques",
            "commentaires",
            "notas",
            "comentarios",
        ],
    ),
    (
        "status",
        &[
            "status",
            "lead status",
            "lifecycle stage",
            "stage",
            "contact status",
            "zustand",
            "statut",
            "estado",
        ],
    ),
    (
        "source",
        &[
            "source",
            "lead source",
            "original source",
            "origin",
            "channel",
            "quelle",
            "herkunft",
            "origine",
            "fuente",
            "origen",
        ],
    ),
    (
        "deal_value",
        &[
            "deal value",
            "value",
            "amount",
            "deal amount",
            "opportunity amount",
            "revenue",
            "wert",
            "betrag",
            "montant",
            "valeur",
            "importe",
            "valor",
        ],
    ),
    (
        "last_contacted",
        &[
            "last contacted",
            "last contact",
            "last activity date",
            "last activity",
            "last contact date",
            "Last Activity Date",
            "letzter kontakt",
            "dernier contact",
            "ultimo contacto",
            "último contacto",
        ],
    ),
    (
        "domain",
        &[
            "domain",
            "company domain",
            "company domain name",
            "email domain",
            "domaene",
            "domaine",
            "dominio",
        ],
    ),
    (
        "industry",
        &[
            "industry",
            "sector",
            "vertical",
            "branche",
            "industrie",
            "secteur",
            "industria",
        ],
    ),
    (
        "employees",
        &[
            "employees",
            "number of employees",
            "employee count",
            "headcount",
            "no of employees",
            "mitarbeiter",
            "anzahl mitarbeiter",
            "employes",
            "employés",
            "empleados",
        ],
    ),
    (
        "annual_revenue",
        &[
            "annual revenue",
            "revenue",
            "yearly revenue",
            "jahresumsatz",
            "umsatz",
            "chiffre d affaires",
            "ingresos anuales",
            "facturacion",
        ],
    ),
    (
        "amount",
        &[
            "amount",
            "deal amount",
            "value",
            "deal value",
            "opportunity amount",
            "betrag",
            "montant",
            "importe",
        ],
    ),
    (
        "stage",
        &[
            "stage",
            "deal stage",
            "pipeline stage",
            "phase",
            "etape",
            "étape",
            "etapa",
        ],
    ),
    (
        "close_date",
        &[
            "close date",
            "closing date",
            "expected close date",
            "abschlussdatum",
            "date de cloture",
            "fecha de cierre",
        ],
    ),
    (
        "owner_email",
        &[
            "owner email",
            "owner",
            "deal owner",
            "assigned to",
            "sales rep",
            "contact owner",
            "besitzer",
            "proprietaire",
            "propietario",
        ],
    ),
    (
        "account",
        &[
            "account",
            "account name",
            "organization",
            "organisation",
            "konto",
            "compte",
            "cuenta",
        ],
    ),
];

/// Which address part a header names (after normalisation), with an optional prefix such as
/// "Billing" or "Home Address".
const ADDRESS_SYNONYMS: &[(&str, &[&str])] = &[
    (
        "street",
        &[
            "street",
            "street address",
            "address",
            "address 1",
            "address line 1",
            "address1",
            "line 1",
            "street 1",
            "street1",
            "strasse",
            "straße",
            "adresse",
            "rue",
            "calle",
            "direccion",
            "dirección",
            "Address 1 - Street",
        ],
    ),
    (
        "street2",
        &[
            "street 2",
            "street2",
            "address 2",
            "address line 2",
            "address2",
            "line 2",
            "adresszusatz",
            "complement d adresse",
            "complément d'adresse",
        ],
    ),
    (
        "city",
        &[
            "city",
            "town",
            "locality",
            "Address 1 - City",
            "ort",
            "stadt",
            "wohnort",
            "ville",
            "ciudad",
            "localidad",
        ],
    ),
    (
        "state",
        &[
            "state",
            "province",
            "region",
            "county",
            "state province",
            "state/province",
            "Address 1 - Region",
            "bundesland",
            "provinz",
            "etat",
            "état",
            "provincia",
            "estado provincia",
        ],
    ),
    (
        "zip",
        &[
            "zip",
            "zip code",
            "zipcode",
            "postal code",
            "postcode",
            "post code",
            "postal",
            "Address 1 - Postal Code",
            "plz",
            "postleitzahl",
            "code postal",
            "codigo postal",
            "código postal",
            "cp",
        ],
    ),
    (
        "country",
        &[
            "country",
            "country region",
            "country/region",
            "nation",
            "Address 1 - Country",
            "land",
            "pays",
            "pais",
            "país",
        ],
    ),
];

/// Words a header may put before an address part ("Billing City", "Address City").
pub(super) const ADDRESS_PREFIXES: &[&str] = &[
    "billing",
    "mailing",
    "shipping",
    "home",
    "business",
    "work",
    "other",
    "primary",
    "postal",
    "office",
    "company",
    "address",
    "rechnungs",
    "liefer",
];

/// Words that give a phone's kind.
const PHONE_KINDS: &[(&str, &[&str])] = &[
    (
        "Mobile",
        &[
            "mobile",
            "cell",
            "cellular",
            "handy",
            "mobil",
            "mobiltelefon",
            "portable",
            "movil",
            "celular",
        ],
    ),
    (
        "Work",
        &[
            "work",
            "business",
            "office",
            "company",
            "direct",
            "buero",
            "geschaeftlich",
            "dienstlich",
            "travail",
            "bureau",
            "professionnel",
            "trabajo",
            "oficina",
        ],
    ),
    (
        "Home",
        &[
            "home",
            "private",
            "personal",
            "privat",
            "zuhause",
            "domicile",
            "maison",
            "casa",
            "particular",
        ],
    ),
];

/// [`SYNONYMS`], normalised: concept → headers.
pub(super) static SYNONYM_TABLE: LazyLock<HashMap<&'static str, Vec<String>>> =
    LazyLock::new(|| {
        SYNONYMS
            .iter()
            .map(|(concept, words)| (*concept, normalized(words)))
            .collect()
    });

/// [`ADDRESS_SYNONYMS`], normalised: part → headers, in the table's order.
pub(super) static ADDRESS_TABLE: LazyLock<Vec<(&'static str, Vec<String>)>> = LazyLock::new(|| {
    ADDRESS_SYNONYMS
        .iter()
        .map(|(part, words)| (*part, normalized(words)))
        .collect()
});

fn normalized(words: &[&str]) -> Vec<String> {
    words.iter().map(|w| normalize_header(w)).collect()
}

/// The concept of a field: its slug when the synonym table knows it, else one implied by its type.
pub(super) fn concept(field: &FieldDef) -> Option<&'static str> {
    if let Some((c, _)) = SYNONYMS.iter().find(|(c, _)| *c == field.slug) {
        return Some(c);
    }
    match field.field_type {
        FieldType::Email => Some("email"),
        FieldType::Phone => Some("phone"),
        FieldType::Url => Some("website"),
        _ => None,
    }
}

/// Whether a word of the header is, by itself, a synonym of a concept other than `own`.
pub(super) fn names_other_concept(header: &str, own: Option<&str>) -> bool {
    header.split(' ').any(|word| {
        SYNONYM_TABLE
            .iter()
            .any(|(c, words)| Some(*c) != own && words.iter().any(|w| w == word))
    })
}

/// The phone kind a header names ("Mobile Phone" → Mobile), if it is one the field allows.
pub(super) fn phone_kind(header: &str, field: &FieldDef) -> Option<String> {
    let allowed = field.phone_types();
    header.split(' ').find_map(|word| {
        PHONE_KINDS.iter().find_map(|(kind, words)| {
            (words.contains(&word) && allowed.iter().any(|a| a.eq_ignore_ascii_case(kind)))
                .then(|| kind.to_string())
        })
    })
}
