//! Value maps for select fields, on both stores: a file whose status column holds its own words
//! (`Contacted`, `Closed Won`, `Perso`…). Suggest-mapping proposes the map; without it those rows
//! fail with `not_an_option`; with it (the CLI's `--mapping`, HTTP validate and execute) they
//! import, and a value outside the map and the options stays a row error.

use std::path::Path;

use serde_json::{Value, json};

use crate::both;
use crate::common::{TestDb, recordport_command};
use crate::http_support::Server;

const FILE: &str = "Name,Email,Lead Status\n\
    Ann Lee,ann@example.com,Contacted\n\
    Bob Moss,bob@example.com,Closed Won\n\
    Cy Ng,cy@example.com,Perso\n\
    Di Roe,di@example.com,lead\n\
    Ed Fox,ed@example.com,Closed Won\n";

fn cli(db: &TestDb, args: &[&str]) -> Value {
    let mut cmd = recordport_command();
    cmd.args(["--db", &db.url, "--json", "import"]).args(args);
    let out = tokio::task::block_in_place(|| cmd.output()).expect("run recordport");
    let body: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    assert!(out.status.success(), "{args:?}: {body}");
    body["data"].clone()
}

/// `import validate|run FILE --module contacts --mapping JSON`.
fn with_mapping(db: &TestDb, step: &str, file: &str, mapping: &Value) -> Value {
    cli(
        db,
        &[
            step,
            file,
            "--module",
            "contacts",
            "--mapping",
            &mapping.to_string(),
        ],
    )
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

fn status_suggestion(suggested: &Value) -> Value {
    suggested["suggestions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["sourceColumn"] == "Lead Status")
        .expect("a suggestion for the status column")
        .clone()
}

fn codes(report: &Value) -> Vec<(u64, String)> {
    report["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["row"].as_u64().unwrap(),
                e["code"].as_str().unwrap().into(),
            )
        })
        .collect()
}

async fn suggested_value_map_imports_every_row(db: TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "leads.csv", FILE);
    let suggested = cli(&db, &["suggest", &file, "--module", "contacts"]);
    let status = status_suggestion(&suggested);
    assert_eq!(status["targetFieldSlug"], "status", "{status}");
    assert_eq!(
        status["valueMap"],
        json!({"Closed Won": "customer", "Contacted": "lead", "Perso": "churned", "lead": "lead"}),
        "{status}"
    );

    // Without the map, each own word is a row error.
    let plain = json!([
        {"sourceColumn": "Name", "targetFieldSlug": "displayName"},
        {"sourceColumn": "Email", "targetFieldSlug": "email"},
        {"sourceColumn": "Lead Status", "targetFieldSlug": "status"}
    ]);
    let report = with_mapping(&db, "validate", &file, &plain);
    assert_eq!(
        codes(&report),
        [2, 3, 4, 6]
            .map(|r| (r, "not_an_option".to_string()))
            .to_vec(),
        "{report}"
    );

    // With the suggested map, none is; the run stores the options.
    let mut mapped = plain.clone();
    mapped[2]["valueMap"] = status["valueMap"].clone();
    let report = with_mapping(&db, "validate", &file, &mapped);
    assert_eq!(report["isValid"], true, "{report}");
    let result = with_mapping(&db, "run", &file, &mapped);
    assert_eq!(
        (&result["successRows"], &result["errorRows"]),
        (&json!(5), &json!(0))
    );
    let records = db
        .service
        .list("contacts", &Default::default())
        .await
        .unwrap()
        .records;
    let mut statuses: Vec<(String, String)> = records
        .iter()
        .map(|r| {
            (
                r.fields["email"].as_str().unwrap().to_string(),
                r.fields["status"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    statuses.sort();
    assert_eq!(
        statuses,
        [
            ("ann@example.com", "lead"),
            ("bob@example.com", "customer"),
            ("cy@example.com", "churned"),
            ("di@example.com", "lead"),
            ("ed@example.com", "customer"),
        ]
        .map(|(e, s)| (e.to_string(), s.to_string()))
        .to_vec()
    );

    // A value outside the map (and the options) stays a row error, named as the file has it.
    let other = write(
        dir.path(),
        "more.csv",
        "Name,Email,Lead Status\nFay Ito,fay@example.com,On Hold\nGus Li,gus@example.com,contacted\n",
    );
    let report = with_mapping(&db, "validate", &other, &mapped);
    assert_eq!(
        codes(&report),
        vec![(2, "not_an_option".to_string())],
        "{report}"
    );
    assert_eq!(report["errors"][0]["value"], "On Hold");
}
both!(
    suggested_value_map_imports_every_row,
    suggested_value_map_imports_every_row
);

async fn value_map_over_http(db: TestDb) {
    let server = Server::start(&db, &[]).await;
    let import = "/v1/modules/contacts/import";
    let rows = json!([
        {"Name": "Ann Lee", "Stage": "Qualified"},
        {"Name": "Bob Moss", "Stage": "Closed Won"},
        {"Name": "Cy Ng", "Stage": "Closed Lost"}
    ]);
    let (status, suggested) = server
        .post(
            &format!("{import}/suggest-mapping"),
            json!({"sourceColumns": ["Name", "Stage"], "sampleData": rows}),
        )
        .await;
    assert_eq!(status, 200, "{suggested}");
    let stage = &suggested["data"]["suggestions"][1];
    assert_eq!(stage["targetFieldSlug"], "status", "{stage}");
    let value_map = stage["valueMap"].clone();
    assert_eq!(
        value_map,
        json!({"Closed Lost": "churned", "Closed Won": "customer", "Qualified": "lead"})
    );
    let mapping = json!([
        {"sourceColumn": "Name", "targetFieldSlug": "displayName"},
        {"sourceColumn": "Stage", "targetFieldSlug": "status", "valueMap": value_map}
    ]);
    let (status, report) = server
        .post(
            &format!("{import}/validate"),
            json!({"rows": rows, "columnMapping": mapping}),
        )
        .await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["data"]["isValid"], true, "{report}");
    let (status, result) = server
        .post(
            &format!("{import}/execute"),
            json!({"rows": rows, "columnMapping": mapping}),
        )
        .await;
    assert_eq!(status, 200, "{result}");
    assert_eq!(result["data"]["successRows"], 3, "{result}");
    let id = result["data"]["createdRecordIds"][1].as_str().unwrap();
    let (_, record) = server
        .get(&format!("/v1/modules/contacts/records/{id}"))
        .await;
    assert_eq!(record["record"]["fields"]["status"], "customer");

    // A map to a word that is not an option, or a map on a field without options, is the
    // request's fault, named where it is.
    for (bad, says) in [
        (
            json!({"sourceColumn": "Stage", "targetFieldSlug": "status", "valueMap": {"Qualified": "hot"}}),
            "columnMapping[0].valueMap.Qualified",
        ),
        (
            json!({"sourceColumn": "Name", "targetFieldSlug": "displayName", "valueMap": {"a": "b"}}),
            "valueMap applies to select",
        ),
    ] {
        let (status, body) = server
            .post(
                &format!("{import}/validate"),
                json!({"rows": rows, "columnMapping": [bad]}),
            )
            .await;
        assert_eq!(status, 400, "{body}");
        assert!(body.to_string().contains(says), "{body}");
    }
}
both!(value_map_over_http, value_map_over_http);
