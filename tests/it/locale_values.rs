//! Issue 18's locale-aware values, through the real binary and a real server: `--locale` (and
//! `locale` in the validate and execute bodies, and a module's `locale`) decides the day/month
//! order of dates, the decimal mark of numbers and the region of phone numbers; without one the
//! file's values decide, and where none does, validate warns `ambiguous_date` /
//! `ambiguous_number` with the column and its first row.

use std::path::Path;

use serde_json::{Value, json};

use crate::both;
use crate::common::TestDb;
use crate::first_run::on_db;
use crate::http_support::Server;
use crate::import_cli::write_file;

fn dated_contacts(dir: &Path, name: &str, rows: &[(&str, &str)]) -> String {
    let mut text = String::from("Email,Last Contacted,Phone\n");
    for (i, (date, phone)) in rows.iter().enumerate() {
        let stem = name.trim_end_matches(".csv");
        text.push_str(&format!("{stem}{i}@example.com,{date},{phone}\n"));
    }
    write_file(dir, name, &text).display().to_string()
}

const DATED_MAPPING: &str = r#"[
    {"sourceColumn": "Email", "targetFieldSlug": "email"},
    {"sourceColumn": "Last Contacted", "targetFieldSlug": "last_contacted"},
    {"sourceColumn": "Phone", "targetFieldSlug": "phone", "valueType": "Mobile"}
]"#;

fn validate_warnings(db: &TestDb, file: &str, extra: &[&str]) -> Vec<Value> {
    validated(db, "contacts", file, DATED_MAPPING, extra)["warnings"]
        .as_array()
        .unwrap()
        .clone()
}

/// `import validate FILE --module contacts --mapping MAPPING`: the text report.
fn validated_text(db: &TestDb, file: &str, mapping: &str) -> String {
    let args = ["import", "validate", file, "--module", "contacts"];
    on_db(db, &[&args[..], &["--mapping", mapping]].concat())
        .ok("validate text")
        .stdout
}

/// `import validate --json FILE --module MODULE --mapping MAPPING EXTRA…`: the report.
fn validated(db: &TestDb, module: &str, file: &str, mapping: &str, extra: &[&str]) -> Value {
    let run = on_db(
        db,
        &[
            &["--json", "import", "validate", file, "--module", module][..],
            &["--mapping", mapping],
            extra,
        ]
        .concat(),
    )
    .ok("validate");
    run.json()["data"].clone()
}

async fn last_contacted_of(db: &TestDb) -> Vec<(String, Value, Value)> {
    let mut records: Vec<(String, Value, Value)> = db
        .service
        .list("contacts", &recordport::records::ListQuery::default())
        .await
        .unwrap()
        .records
        .into_iter()
        .map(|r| {
            (
                r.fields["email"].as_str().unwrap().to_string(),
                r.fields["last_contacted"].clone(),
                r.fields.get("phone").cloned().unwrap_or(Value::Null),
            )
        })
        .collect();
    records.sort_by(|a, b| a.0.cmp(&b.0));
    records
}

/// The one warning of a validation, which must be `ambiguous_date`.
fn the_ambiguous_date_warning(warnings: Vec<Value>) -> Value {
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert_eq!(warnings[0]["code"], "ambiguous_date", "{warnings:?}");
    warnings[0].clone()
}

async fn locale_aware_values(db: TestDb) {
    let dir = tempfile::tempdir().unwrap();
    // A 13 in the first place decides day-first for the whole column.
    let decided = dated_contacts(
        dir.path(),
        "decided.csv",
        &[("03/04/2024", ""), ("13/02/2024", ""), ("01/02/2024", "")],
    );
    assert_eq!(validate_warnings(&db, &decided, &[]), Vec::<Value>::new());
    on_db(
        &db,
        &[
            "import",
            "run",
            &decided,
            "--module",
            "contacts",
            "--mapping",
            DATED_MAPPING,
        ],
    )
    .ok("run decided");
    let dates: Vec<Value> = last_contacted_of(&db)
        .await
        .into_iter()
        .map(|r| r.1)
        .collect();
    assert_eq!(
        dates,
        [
            json!("2024-04-03"),
            json!("2024-02-13"),
            json!("2024-02-01")
        ]
    );

    // Nothing decides: a warning naming the column, with its first row, asking for a locale.
    let open = dated_contacts(
        dir.path(),
        "open.csv",
        &[("2024-01-05", ""), ("05/06/2024", "")],
    );
    let warning = the_ambiguous_date_warning(validate_warnings(&db, &open, &[]));
    assert_eq!(warning["field"], "last_contacted");
    assert_eq!(warning["row"], json!(3));
    let message = warning["message"].as_str().unwrap();
    assert!(
        message.contains("'Last Contacted'") && message.contains("locale"),
        "{message}"
    );
    let text = validated_text(&db, &open, DATED_MAPPING);
    assert!(text.contains("warning (row 3, last_contacted)"), "{text}");
    // A locale decides, without a warning.
    assert!(validate_warnings(&db, &open, &["--locale", "en-GB"]).is_empty());

    // Values that need both orders.
    let mixed = dated_contacts(
        dir.path(),
        "mixed.csv",
        &[("13/02/2024", ""), ("02/13/2024", "")],
    );
    let warning = the_ambiguous_date_warning(validate_warnings(&db, &mixed, &[]));
    assert!(
        warning["message"].as_str().unwrap().contains("mixes"),
        "{warning}"
    );

    // The locale also gives phones without a country code their region; in the execute body too.
    let french = dated_contacts(
        dir.path(),
        "french.csv",
        &[("05/06/2024", "01 42 68 12 22")],
    );
    let body = format!(r#"{{"columnMapping": {DATED_MAPPING}, "locale": "fr-FR"}}"#);
    on_db(
        &db,
        &[
            "import",
            "run",
            &french,
            "--module",
            "contacts",
            "--mapping",
            &body,
        ],
    )
    .ok("run fr-FR");
    let french = last_contacted_of(&db)
        .await
        .into_iter()
        .find(|r| r.0 == "french0@example.com")
        .expect("the French contact");
    assert_eq!(french.1, json!("2024-06-05"));
    assert!(
        french.2.to_string().contains("+33142681222"),
        "{:?}",
        french.2
    );
    let bad = on_db(
        &db,
        &[
            "import", "validate", &open, "--module", "contacts", "--locale", "fr",
        ],
    );
    assert_eq!(bad.code, 2);
    assert!(bad.stderr.contains("is not a locale"), "{}", bad.stderr);
}
both!(locale_values, locale_aware_values);

/// A CSV of contacts with a deal value each, every cell quoted (values may hold commas); the
/// emails start with the file's stem.
fn valued_contacts(dir: &Path, name: &str, values: &[&str]) -> String {
    let stem = name.trim_end_matches(".csv");
    let mut text = String::from("Email,Deal Value\n");
    for (i, value) in values.iter().enumerate() {
        text.push_str(&format!("\"{stem}{i}@example.com\",\"{value}\"\n"));
    }
    write_file(dir, name, &text).display().to_string()
}

const VALUED_MAPPING: &str = r#"[
    {"sourceColumn": "Email", "targetFieldSlug": "email"},
    {"sourceColumn": "Deal Value", "targetFieldSlug": "deal_value"}
]"#;

/// `import run FILE --module contacts --mapping VALUED_MAPPING EXTRA…`.
fn run_valued(db: &TestDb, file: &str, extra: &[&str]) -> crate::common::Run {
    let args = ["import", "run", file, "--module", "contacts"];
    on_db(
        db,
        &[&args[..], &["--mapping", VALUED_MAPPING], extra].concat(),
    )
}

/// The deal values of the contacts whose email starts with `stem`, in file order.
async fn deal_values(db: &TestDb, stem: &str) -> Vec<Value> {
    let query = recordport::records::ListQuery {
        page_size: Some(100),
        ..Default::default()
    };
    let mut found: Vec<(String, Value)> = db
        .service
        .list("contacts", &query)
        .await
        .unwrap()
        .records
        .into_iter()
        .filter_map(|r| {
            let email = r.fields["email"].as_str()?.to_string();
            let number: usize = email.strip_prefix(stem)?.split('@').next()?.parse().ok()?;
            Some((
                format!("{number:04}"),
                r.fields.get("deal_value").cloned().unwrap_or(Value::Null),
            ))
        })
        .collect();
    found.sort_by(|a, b| a.0.cmp(&b.0));
    found.into_iter().map(|(_, value)| value).collect()
}

async fn numbers_read_by_locale(db: TestDb) {
    let dir = tempfile::tempdir().unwrap();
    // Decimal comma: points, spaces, no-break and narrow no-break spaces group thousands.
    let comma_values = [
        "1.234,5",
        "1 234,5",
        "1\u{a0}234,5",
        "1\u{202f}234,5",
        "1.234",
        "12,5",
    ];
    for locale in ["de-DE", "fr-FR"] {
        let stem = format!("comma{}", &locale[..2]);
        let file = valued_contacts(dir.path(), &format!("{stem}.csv"), &comma_values);
        let report = validated(
            &db,
            "contacts",
            &file,
            VALUED_MAPPING,
            &["--locale", locale],
        );
        assert_eq!(report["warnings"], json!([]), "{locale}: {report}");
        assert_eq!(report["isValid"], true, "{locale}: {report}");
        run_valued(&db, &file, &["--locale", locale]).ok(locale);
        assert_eq!(
            deal_values(&db, &stem).await,
            [
                json!(1234.5),
                json!(1234.5),
                json!(1234.5),
                json!(1234.5),
                json!(1234),
                json!(12.5)
            ],
            "{locale}"
        );
    }
    // Decimal point: commas group thousands, and `1.234` is one and a bit.
    for locale in ["en-US", "en-GB"] {
        let stem = format!("point{}", locale[3..].to_lowercase());
        let file = valued_contacts(
            dir.path(),
            &format!("{stem}.csv"),
            &["1,234.5", "1.234", "1,234", "0.5"],
        );
        run_valued(&db, &file, &["--locale", locale]).ok(locale);
        assert_eq!(
            deal_values(&db, &stem).await,
            [json!(1234.5), json!(1.234), json!(1234), json!(0.5)],
            "{locale}"
        );
    }
    // A value the locale cannot read is the row's error, never a guess.
    let file = valued_contacts(dir.path(), "wrong.csv", &["12,5"]);
    let report = validated(
        &db,
        "contacts",
        &file,
        VALUED_MAPPING,
        &["--locale", "en-US"],
    );
    assert_eq!(report["errorRows"], 1, "{report}");
    assert_eq!(report["errors"][0]["code"], "invalid_number", "{report}");
    assert_eq!(report["errors"][0]["row"], 2, "{report}");
}
both!(numbers_by_locale, numbers_read_by_locale);

async fn number_columns_read_as_their_values_decide(db: TestDb) {
    let dir = tempfile::tempdir().unwrap();
    // A `12,5` decides the decimal comma for the whole column; a `1,234.56` the point.
    let decided = [
        ("comma", ["1.234", "12,5"], [json!(1234), json!(12.5)]),
        (
            "point",
            ["1.234", "1,234.56"],
            [json!(1.234), json!(1234.56)],
        ),
        // A dollar amount writes a decimal point: beside euros written with a comma, each
        // value reads by its own shape.
        (
            "cash",
            ["119.500,00 €", "$57,500"],
            [json!(119500), json!(57500)],
        ),
    ];
    for (stem, values, expected) in decided {
        let file = valued_contacts(dir.path(), &format!("{stem}.csv"), &values);
        let report = validated(&db, "contacts", &file, VALUED_MAPPING, &[]);
        assert_eq!(report["warnings"], json!([]), "{stem}: {report}");
        run_valued(&db, &file, &[]).ok(stem);
        assert_eq!(deal_values(&db, stem).await, expected, "{stem}");
    }

    // Nothing decides: a warning naming the column and its first row, asking for a locale,
    // before anything is written.
    let open = valued_contacts(dir.path(), "open.csv", &["500", "1.234", "2,500"]);
    let report = validated(&db, "contacts", &open, VALUED_MAPPING, &[]);
    let warnings = report["warnings"].as_array().unwrap();
    assert_eq!(warnings.len(), 1, "{report}");
    let warning = &warnings[0];
    assert_eq!(warning["code"], "ambiguous_number", "{warning}");
    assert_eq!(warning["field"], "deal_value");
    assert_eq!(warning["row"], 3);
    let message = warning["message"].as_str().unwrap();
    assert!(
        message.contains("'Deal Value'") && message.contains("1.234") && message.contains("locale"),
        "{message}"
    );
    assert!(deal_values(&db, "open").await.is_empty(), "validate wrote");
    let text = validated_text(&db, &open, VALUED_MAPPING);
    assert!(text.contains("warning (row 3, deal_value)"), "{text}");
    // `import run` says it too, on stderr, before the job writes.
    let run = run_valued(&db, &open, &[]).ok("run open");
    assert!(run.stderr.contains("'Deal Value'"), "{}", run.stderr);
    // A locale decides, without a warning.
    let report = validated(
        &db,
        "contacts",
        &open,
        VALUED_MAPPING,
        &["--locale", "de-DE"],
    );
    assert_eq!(report["warnings"], json!([]), "{report}");

    // Values that need both marks leave `1.234` undecided.
    let mixed = valued_contacts(dir.path(), "mixed.csv", &["1.234", "12,5", "1,234.56"]);
    let report = validated(&db, "contacts", &mixed, VALUED_MAPPING, &[]);
    let warning = &report["warnings"][0];
    assert_eq!(warning["code"], "ambiguous_number", "{report}");
    assert_eq!(warning["row"], 2, "{report}");
    assert!(
        warning["message"].as_str().unwrap().contains("mixes"),
        "{warning}"
    );

    // A queued import is read the same way by the worker that runs it.
    let queued = valued_contacts(dir.path(), "queued.csv", &["1.234", "12,5"]);
    run_valued(&db, &queued, &["--background"]).ok("queue");
    on_db(&db, &["worker", "--exit-when-idle", "--poll-ms", "50"]).ok("worker");
    assert_eq!(deal_values(&db, "queued").await, [json!(1234), json!(12.5)]);
}
both!(
    numbers_by_their_values,
    number_columns_read_as_their_values_decide
);

/// An `orders` module whose definition carries a locale.
fn orders_module(dir: &Path, locale: &str) -> String {
    let definition = json!({
        "slug": "orders",
        "name": "Orders",
        "displayName": ["{email}"],
        "locale": locale,
        "fields": [
            {"slug": "email", "label": "Email", "type": "email"},
            {"slug": "amount", "label": "Amount", "type": "number"},
            {"slug": "placed", "label": "Placed", "type": "date"}
        ]
    });
    let name = format!("orders-{locale}.json");
    write_file(dir, &name, &definition.to_string())
        .display()
        .to_string()
}

const ORDERS_MAPPING: &str = r#"[
    {"sourceColumn": "Email", "targetFieldSlug": "email"},
    {"sourceColumn": "Amount", "targetFieldSlug": "amount"},
    {"sourceColumn": "Placed", "targetFieldSlug": "placed"}
]"#;

/// The amount and date of the order of `email`.
async fn order_of(db: &TestDb, email: &str) -> (Value, Value) {
    let page = db
        .service
        .list("orders", &recordport::records::ListQuery::default())
        .await
        .unwrap();
    let order = page
        .records
        .into_iter()
        .find(|r| r.fields["email"] == email)
        .unwrap_or_else(|| panic!("no order of {email}"));
    (
        order.fields["amount"].clone(),
        order.fields["placed"].clone(),
    )
}

async fn a_module_locale_reads_its_imports(db: TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let bad = on_db(&db, &["module", "apply", &orders_module(dir.path(), "de")]);
    assert_eq!(bad.code, 2, "{}", bad.stdout);
    assert!(bad.stderr.contains("is not a locale"), "{}", bad.stderr);
    on_db(
        &db,
        &["module", "apply", &orders_module(dir.path(), "de-DE")],
    )
    .ok("apply");
    let shown = on_db(&db, &["module", "show", "orders"]).ok("show").stdout;
    assert!(shown.contains("locale: de-DE"), "{shown}");
    let shown = on_db(&db, &["--json", "module", "show", "orders"]).ok("show --json");
    assert_eq!(shown.json()["module"]["locale"], "de-DE");

    let file = |name: &str| {
        let text = format!("Email,Amount,Placed\n{name}@example.com,1.234,03/04/2024\n");
        write_file(dir.path(), &format!("{name}.csv"), &text)
            .display()
            .to_string()
    };
    let run = |file: &str, extra: &[&str]| {
        let args = ["import", "run", file, "--module", "orders"];
        on_db(
            &db,
            &[&args[..], &["--mapping", ORDERS_MAPPING], extra].concat(),
        )
        .ok("import orders");
    };
    // The module's locale decides what the file leaves open …
    let german = file("german");
    let report = validated(&db, "orders", &german, ORDERS_MAPPING, &[]);
    assert_eq!(report["warnings"], json!([]), "{report}");
    run(&german, &[]);
    assert_eq!(
        order_of(&db, "german@example.com").await,
        (json!(1234), json!("2024-04-03"))
    );
    // … the import's own locale comes first …
    run(&file("american"), &["--locale", "en-US"]);
    assert_eq!(
        order_of(&db, "american@example.com").await,
        (json!(1.234), json!("2024-03-04"))
    );
    // … and a worker running a queued import reads it the same way.
    run(&file("queued"), &["--background"]);
    on_db(&db, &["worker", "--exit-when-idle", "--poll-ms", "50"]).ok("worker");
    assert_eq!(
        order_of(&db, "queued@example.com").await,
        (json!(1234), json!("2024-04-03"))
    );
}
both!(module_locale, a_module_locale_reads_its_imports);

async fn http_validate_warns_and_takes_a_locale(db: TestDb) {
    let server = Server::start(&db, &[]).await;
    let mapping = json!([
        {"sourceColumn": "Email", "targetFieldSlug": "email"},
        {"sourceColumn": "Deal Value", "targetFieldSlug": "deal_value"},
        {"sourceColumn": "Last Contacted", "targetFieldSlug": "last_contacted"}
    ]);
    let rows = json!([
        {"Email": "web0@example.com", "Deal Value": "500", "Last Contacted": "2024-01-05"},
        {"Email": "web1@example.com", "Deal Value": "1.234", "Last Contacted": "05/06/2024"}
    ]);
    let validate = |locale: Option<&str>| {
        let mut body = json!({"rows": rows, "columnMapping": mapping});
        if let Some(locale) = locale {
            body["locale"] = json!(locale);
        }
        server.post("/v1/modules/contacts/import/validate", body)
    };
    let (status, report) = validate(None).await;
    assert_eq!(status, 200, "{report}");
    let mut warnings: Vec<(String, String, u64)> = report["data"]["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| {
            (
                w["code"].as_str().unwrap().to_string(),
                w["field"].as_str().unwrap().to_string(),
                w["row"].as_u64().unwrap(),
            )
        })
        .collect();
    warnings.sort();
    assert_eq!(
        warnings,
        [
            // Inline rows are numbered by their place (spec 002): the second element is row 2.
            ("ambiguous_date".into(), "last_contacted".into(), 2),
            ("ambiguous_number".into(), "deal_value".into(), 2)
        ],
        "{report}"
    );
    let (status, report) = validate(Some("de-DE")).await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["data"]["warnings"], json!([]), "{report}");
    let (status, report) = validate(Some("de")).await;
    assert_eq!(status, 400, "{report}");

    // Execute reads as validate does: the file's values decide, or the body's locale.
    for (stem, locale, values, expected) in [
        ("webc", None, ["1.234", "12,5"], [json!(1234), json!(12.5)]),
        (
            "webp",
            Some("en-US"),
            ["1.234", "1,234"],
            [json!(1.234), json!(1234)],
        ),
    ] {
        let rows: Vec<Value> = values
            .iter()
            .enumerate()
            .map(|(i, v)| json!({"Email": format!("{stem}{i}@example.com"), "Deal Value": v}))
            .collect();
        let mut body =
            json!({"rows": rows, "columnMapping": VALUED_MAPPING.parse::<Value>().unwrap()});
        if let Some(locale) = locale {
            body["locale"] = json!(locale);
        }
        let (status, result) = server
            .post("/v1/modules/contacts/import/execute", body)
            .await;
        assert_eq!(status, 200, "{result}");
        assert_eq!(deal_values(&db, stem).await, expected, "{stem}");
    }
}
both!(http_locale, http_validate_warns_and_takes_a_locale);
