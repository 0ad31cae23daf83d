//! Mapping suggestions through the library API, on the sample modules.

use recordport::import::mapping::{
    ColumnMapping, RememberedMapping, SuggestResult, normalize_header, suggest,
};
use recordport::schema::Module;
use recordport::schema::value::ValueOptions;
use serde_json::{Map, Value, json};

use crate::common::sample_modules;

fn module(slug: &str) -> Module {
    let def = sample_modules()
        .into_iter()
        .find(|m| m.slug == slug)
        .expect("sample module");
    Module::unsaved(format!("mod_{slug}"), def)
}

fn rows(columns: &[&str], data: &[&[&str]]) -> Vec<Map<String, Value>> {
    data.iter()
        .map(|r| {
            columns
                .iter()
                .zip(r.iter())
                .map(|(c, v)| (c.to_string(), json!(v)))
                .collect()
        })
        .collect()
}

fn run(
    slug: &str,
    columns: &[&str],
    data: &[&[&str]],
    remembered: &[RememberedMapping],
) -> SuggestResult {
    let cols: Vec<String> = columns.iter().map(|c| c.to_string()).collect();
    suggest(
        &module(slug),
        &cols,
        &rows(columns, data),
        remembered,
        &ValueOptions::default(),
    )
}

/// (column, target, valueType/addressPart) for each suggestion; checks that confident
/// suggestions (≥ 0.9) are the expected ones.
fn check(result: &SuggestResult, expected: &[(&str, Option<&str>, Option<&str>)]) {
    assert_eq!(result.suggestions.len(), expected.len());
    for (s, (column, target, extra)) in result.suggestions.iter().zip(expected) {
        assert_eq!(s.source_column, *column);
        assert_eq!(
            s.target_field_slug.as_deref(),
            *target,
            "target of {column}: {s:?}"
        );
        let got_extra = s.value_type.as_deref().or(s.address_part.as_deref());
        assert_eq!(got_extra, *extra, "valueType/addressPart of {column}");
        match target {
            Some(_) => assert!(s.confidence >= 0.75 && s.confidence <= 1.0, "{s:?}"),
            None => assert_eq!(s.confidence, 0.0),
        }
    }
    assert!(!result.ai_used);
}

#[test]
fn google_contacts_export() {
    let cols = [
        "Given Name",
        "Family Name",
        "E-mail 1 - Value",
        "Phone 1 - Value",
        "Organization 1 - Name",
        "Organization 1 - Title",
        "Address 1 - City",
        "Address 1 - Postal Code",
        "Notes",
        "Birthday",
    ];
    let data: &[&[&str]] = &[
        &[
            "Ada",
            "Lovelace",
            "ada@example.com",
            "+1 212-555-0100",
            "Acme",
            "CTO",
            "London",
            "N1 9GU",
            "met at expo",
            "1815-12-10",
        ],
        &[
            "Alan",
            "Turing",
            "alan@example.org",
            "+44 20 7946 0958",
            "Initech",
            "Researcher",
            "Wilmslow",
            "SK9",
            "",
            "1912-06-23",
        ],
    ];
    let r = run("contacts", &cols, data, &[]);
    check(
        &r,
        &[
            ("Given Name", Some("first_name"), None),
            ("Family Name", Some("last_name"), None),
            ("E-mail 1 - Value", Some("email"), None),
            ("Phone 1 - Value", Some("phone"), None),
            ("Organization 1 - Name", Some("company"), None),
            ("Organization 1 - Title", Some("job_title"), None),
            ("Address 1 - City", Some("address"), Some("city")),
            ("Address 1 - Postal Code", Some("address"), Some("zip")),
            ("Notes", Some("notes"), None),
            ("Birthday", None, None),
        ],
    );
    assert!(r.suggestions[2].confidence >= 0.9);
    assert_eq!(r.target_fields[0].field_slug, "displayName");
    assert!(
        r.target_fields
            .iter()
            .any(|t| t.field_slug == "phone" && t.data_type == "phone")
    );
}

#[test]
fn german_headers_and_phone_kinds() {
    let cols = [
        "Vorname",
        "Nachname",
        "E-Mail-Adresse",
        "Handy",
        "Telefon geschäftlich",
        "Firma",
        "Straße",
        "PLZ",
        "Ort",
        "Land",
    ];
    let data: &[&[&str]] = &[&[
        "Jürgen",
        "Müller",
        "jm@firma.de",
        "+49 171 1234567",
        "+49 89 1234567",
        "Firma GmbH",
        "Hauptstraße 5",
        "80331",
        "München",
        "Deutschland",
    ]];
    let r = run("contacts", &cols, data, &[]);
    check(
        &r,
        &[
            ("Vorname", Some("first_name"), None),
            ("Nachname", Some("last_name"), None),
            ("E-Mail-Adresse", Some("email"), None),
            ("Handy", Some("phone"), Some("Mobile")),
            ("Telefon geschäftlich", Some("phone"), Some("Work")),
            ("Firma", Some("company"), None),
            ("Straße", Some("address"), Some("street")),
            ("PLZ", Some("address"), Some("zip")),
            ("Ort", Some("address"), Some("city")),
            ("Land", Some("address"), Some("country")),
        ],
    );
}

#[test]
fn values_decide_when_headers_do_not() {
    let cols = ["Contact Info", "Favorite Color", "Customer Number", "Name"];
    let data: &[&[&str]] = &[
        &["ada@example.com", "blue", "10000001", "Ada Lovelace"],
        &["alan@example.org", "green", "10000002", "Alan Turing"],
        &["grace@example.net", "red", "10000003", "Grace Hopper"],
    ];
    let r = run("contacts", &cols, data, &[]);
    check(
        &r,
        &[
            ("Contact Info", Some("email"), None),
            ("Favorite Color", None, None),
            ("Customer Number", None, None),
            ("Name", Some("displayName"), None),
        ],
    );
    assert!(
        r.suggestions[0].confidence >= 0.9,
        "an email column is an email column"
    );

    // A header that says email over values that are not emails is not trusted.
    let r = run(
        "contacts",
        &["Email"],
        &[&["n/a"], &["unknown"], &["ask Bob"]],
        &[],
    );
    assert!(r.suggestions[0].confidence < 0.9, "{:?}", r.suggestions[0]);
}

#[test]
fn name_maps_to_the_name_field_where_there_is_one() {
    let r = run(
        "accounts",
        &["Name", "Website", "Employees", "Annual Revenue", "Country"],
        &[&["Acme", "https://acme.com", "1200", "$48,000,000", "USA"]],
        &[],
    );
    check(
        &r,
        &[
            ("Name", Some("name"), None),
            ("Website", Some("website"), None),
            ("Employees", Some("employees"), None),
            ("Annual Revenue", Some("annual_revenue"), None),
            ("Country", Some("address"), Some("country")),
        ],
    );
    assert!(
        r.target_fields
            .iter()
            .all(|t| t.field_slug != "displayName")
    );
}

#[test]
fn remembered_mappings_win() {
    let remembered = vec![RememberedMapping {
        elsewhere: None,
        header: "Col_7".into(),
        mapping: ColumnMapping {
            value_map: None,
            source_column: "Col_7".into(),
            target_field_slug: Some("source".into()),
            ignored: false,
            value_type: None,
            address_part: None,
        },
    }];
    let r = run(
        "contacts",
        &["col 7", "Email"],
        &[&["webinar", "a@b.co"]],
        &remembered,
    );
    check(
        &r,
        &[
            ("col 7", Some("source"), None),
            ("Email", Some("email"), None),
        ],
    );
    assert_eq!(r.suggestions[0].confidence, 0.99);
}

#[test]
fn each_field_is_suggested_once() {
    let r = run(
        "contacts",
        &["Email", "E-mail Address", "Primary Email"],
        &[&["a@b.co", "c@d.co", "e@f.co"]],
        &[],
    );
    let mapped: Vec<_> = r
        .suggestions
        .iter()
        .filter(|s| s.target_field_slug.is_some())
        .collect();
    assert_eq!(mapped.len(), 1);
    assert_eq!(mapped[0].source_column, "Email");
}

#[test]
fn headers_normalise() {
    assert_eq!(normalize_header("E-Mail-Adresse"), "e mail adresse");
    assert_eq!(normalize_header("emailAddress"), "email address");
    assert_eq!(normalize_header("  FIRST_NAME "), "first name");
    assert_eq!(normalize_header("Straße"), "strasse");
}

async fn mappings_are_remembered_per_module(db: crate::common::TestDb) {
    use recordport::import::memory::{recall, remember};
    let store = db.service.store();
    let contacts = db.service.modules().get("contacts").await.unwrap();
    let accounts = db.service.modules().get("accounts").await.unwrap();
    let mapping = |col: &str, target: Option<&str>| ColumnMapping {
        value_map: None,
        source_column: col.into(),
        target_field_slug: target.map(Into::into),
        ignored: target.is_none(),
        value_type: None,
        address_part: None,
    };
    remember(
        store,
        &contacts,
        &[
            mapping("Lead Origin", Some("source")),
            mapping("Internal Id", None),
        ],
    )
    .await
    .unwrap();
    // Remembering again replaces the earlier choice for the same header.
    remember(store, &contacts, &[mapping("lead_origin", Some("notes"))])
        .await
        .unwrap();
    let recalled = recall(store, &contacts).await.unwrap();
    assert_eq!(recalled.len(), 2);
    assert!(
        recall(store, &accounts).await.unwrap().is_empty(),
        "per module"
    );

    let cols = vec!["LEAD ORIGIN".to_string(), "Internal ID".to_string()];
    let r = suggest(&contacts, &cols, &[], &recalled, &ValueOptions::default());
    assert_eq!(r.suggestions[0].target_field_slug.as_deref(), Some("notes"));
    assert_eq!(r.suggestions[0].confidence, 0.99);
    assert_eq!(
        r.suggestions[1].target_field_slug, None,
        "an ignored column stays ignored"
    );
}
crate::both!(
    mappings_are_remembered_per_module,
    mappings_are_remembered_per_module
);

/// `import parse` and `import suggest` on the CLI, with spec 002's `{"success", "data"}` shape.
async fn cli_parse_and_suggest(db: crate::common::TestDb) {
    let file = crate::common::sample_dir().join("import/contacts-windows1252.csv");
    let run = |args: &[&str]| -> Value {
        let out = assert_cmd::Command::cargo_bin("recordport")
            .unwrap()
            .env_remove("RECORDPORT_DATABASE_URL")
            .args(["--db", db.url.as_str(), "--json"])
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    };
    let file = file.to_str().unwrap();
    let parsed = tokio::task::block_in_place(|| run(&["import", "parse", file]));
    assert_eq!(parsed["success"], true);
    assert_eq!(parsed["data"]["encoding"], "windows-1252");
    assert_eq!(parsed["data"]["delimiter"], ";");
    assert_eq!(parsed["data"]["sourceColumns"][0], "First Name");
    let suggested =
        tokio::task::block_in_place(|| run(&["import", "suggest", file, "--module", "contacts"]));
    let data = &suggested["data"];
    assert_eq!(data["aiUsed"], false);
    let targets: Vec<(String, Value)> = data["suggestions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["sourceColumn"].as_str().unwrap().to_string(),
                s["targetFieldSlug"].clone(),
            )
        })
        .collect();
    assert!(
        targets.contains(&("Email".to_string(), json!("email"))),
        "{targets:?}"
    );
    assert!(
        targets.contains(&("City".to_string(), json!("address"))),
        "{targets:?}"
    );
}
crate::both!(cli_parse_and_suggest, cli_parse_and_suggest);
