//! The Records endpoints integrations sync with (specs 001, 003, 004) through a real server and
//! the real binary: bulk create, bulk field updates and bulk delete on `…/records/bulk`, PUT
//! replace, upsert by external id, lookup and upsert by a matching field.

use reqwest::Method;
use serde_json::{Value, json};

use crate::both;
use crate::common::{TestDb, cli_json, recordport_command};
use crate::http_support::{Server, assert_error};

const RECORDS: &str = "/v1/modules/contacts/records";

async fn bulk_create_patch_delete(db: TestDb) {
    let server = Server::start(&db, &[]).await;
    let bulk = format!("{RECORDS}/bulk");

    // Spec 004's shape, `data` for `fields`; all or nothing, every bad element named.
    let (status, body) = server
        .post(
            &bulk,
            json!({"records": [
                {"data": {"first_name": "Ada", "email": "ada@example.com"}},
                {"data": {"first_name": "Bad", "email": "not-an-email"}},
                {"fields": {"first_name": "Dup", "email": "ADA@example.com"}},
                {"fields": {"first_name": "Zed", "nope": 1}}
            ]}),
        )
        .await;
    assert_error(status, &body, 400, "validation_error");
    let named: Vec<&str> = body["error"]["details"]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["field"].as_str().unwrap())
        .collect();
    assert_eq!(
        named,
        ["records[1].email", "records[2]", "records[3].nope"],
        "{body}"
    );
    let (_, list) = server.get(RECORDS).await;
    assert_eq!(list["total"], 0, "nothing was created: {list}");

    let (status, created) = server
        .post(
            &bulk,
            json!({"records": [
                {"data": {"first_name": "Ada", "email": "ada@example.com", "status": "lead"}},
                {"fields": {"first_name": "Grace", "email": "grace@example.com"}}
            ], "options": {"returnRecords": true}}),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["created"], 2);
    let ada = created["records"][0]["id"].as_str().unwrap().to_string();
    let grace = created["records"][1]["id"].as_str().unwrap().to_string();
    assert_eq!(created["records"][0]["fields"]["status"], "lead");

    let (status, quiet) = server
        .post(
            &bulk,
            json!({"records": [{"fields": {"first_name": "Linus"}}], "options": {"returnRecords": false}}),
        )
        .await;
    assert_eq!(status, 201, "{quiet}");
    assert!(quiet.get("records").is_none());
    let linus = quiet["ids"][0].as_str().unwrap().to_string();

    let (status, body) = server
        .post(
            &bulk,
            json!({"records": [{"fields": {}}], "options": {"skipValidation": true}}),
        )
        .await;
    assert_error(status, &body, 400, "validation_error");

    // Spec 000's body on the same path still edits labels.
    let (status, labelled) = server
        .post(
            &bulk,
            json!({"recordIds": [ada], "addLabelIds": ["lbl_vip"]}),
        )
        .await;
    assert_eq!(status, 200, "{labelled}");
    assert_eq!(labelled["records"][0]["labelIds"], json!(["lbl_vip"]));

    // Field updates, each with its own version; a stale one fails the whole request.
    let (status, body) = server
        .call(
            Method::PATCH,
            &bulk,
            json!({"updates": [
                {"id": ada, "fields": {"status": "customer"}, "version": 2},
                {"id": grace, "data": {"status": "customer"}, "version": 7}
            ]}),
        )
        .await;
    assert_error(status, &body, 400, "validation_error");
    assert_eq!(body["error"]["details"]["fields"][0]["field"], "updates[1]");
    let (_, still) = server.get(&format!("{RECORDS}/{ada}")).await;
    assert_eq!(still["record"]["fields"]["status"], "lead", "rolled back");

    let (status, patched) = server
        .call(
            Method::PATCH,
            &bulk,
            json!({"updates": [
                {"id": ada, "fields": {"status": "customer"}, "version": 2},
                {"id": grace, "data": {"status": "customer"}}
            ]}),
        )
        .await;
    assert_eq!(status, 200, "{patched}");
    assert_eq!(patched["records"][0]["version"], 3);
    assert_eq!(patched["records"][1]["fields"]["status"], "customer");

    let (status, body) = server
        .call(
            Method::PATCH,
            &bulk,
            json!({"updates": [{"id": "rec_missing", "fields": {"status": "lead"}}]}),
        )
        .await;
    assert_error(status, &body, 400, "validation_error");
    assert_eq!(
        body["error"]["details"]["fields"][0]["field"],
        "updates[0].id"
    );

    let (status, deleted) = server
        .call(
            Method::DELETE,
            &bulk,
            json!({"recordIds": [grace, linus, "rec_missing"]}),
        )
        .await;
    assert_eq!(status, 200, "{deleted}");
    assert_eq!(deleted, json!({"deleted": 2, "skipped": 1}));
    let (_, list) = server.get(RECORDS).await;
    assert_eq!(list["total"], 1);
}
both!(http_bulk_create_patch_delete, bulk_create_patch_delete);

async fn replace_and_upserts(db: TestDb) {
    let server = Server::start(&db, &[]).await;

    // Upsert by external id: 201, then 200 on the same record.
    let upsert = "/v1/modules/contacts/upsert/crm-42";
    let (status, first) = server
        .post(
            upsert,
            json!({"fields": {"first_name": "Ada", "email": "ada@example.com", "status": "lead"}}),
        )
        .await;
    assert_eq!(status, 201, "{first}");
    assert_eq!(first["created"], true);
    let id = first["record"]["id"].as_str().unwrap().to_string();
    assert_eq!(first["record"]["externalId"], "crm-42");
    let (status, second) = server
        .post(upsert, json!({"data": {"status": "customer"}}))
        .await;
    assert_eq!(status, 200, "{second}");
    assert_eq!(second["record"]["id"], id.as_str());
    assert_eq!(second["record"]["fields"]["status"], "customer");
    assert_eq!(second["record"]["fields"]["email"], "ada@example.com");

    // Lookup by email matches as imports do: whatever the case.
    let (status, found) = server
        .get(&format!("{RECORDS}/lookup?email=ADA%40Example.COM"))
        .await;
    assert_eq!(status, 200, "{found}");
    assert_eq!(found["record"]["id"], id.as_str());
    let (status, body) = server
        .get(&format!("{RECORDS}/lookup?email=nobody%40example.com"))
        .await;
    assert_error(status, &body, 404, "not_found");
    let (status, body) = server.get(&format!("{RECORDS}/lookup?city=Paris")).await;
    assert_error(status, &body, 400, "validation_error");
    assert!(
        body["error"]["message"].as_str().unwrap().contains("email"),
        "names the fields that can be looked up: {body}"
    );
    let (status, body) = server
        .get(&format!("{RECORDS}/lookup?email=a%40b.c&phone=1"))
        .await;
    assert_error(status, &body, 400, "validation_error");

    // Upsert by a matching field: the email finds the record; a new one is created.
    let by_match = format!("{RECORDS}/upsert");
    let (status, updated) = server
        .post(
            &by_match,
            json!({"matchField": "email", "fields": {"email": "Ada@Example.com", "last_name": "Lovelace"}}),
        )
        .await;
    assert_eq!(status, 200, "{updated}");
    assert_eq!(updated["record"]["id"], id.as_str());
    assert_eq!(updated["record"]["fields"]["last_name"], "Lovelace");
    let (status, created) = server
        .post(
            &by_match,
            json!({"matchField": "email", "fields": {"email": "grace@example.com", "first_name": "Grace"}}),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    let (status, body) = server
        .post(
            &by_match,
            json!({"matchField": "email", "fields": {"first_name": "X"}}),
        )
        .await;
    assert_error(status, &body, 400, "validation_error");

    // Accounts are matched by name; two with one name make a match ambiguous.
    let accounts = "/v1/modules/accounts/records";
    for domain in ["acme.com", "acme.org"] {
        let (status, body) = server
            .post(
                accounts,
                json!({"fields": {"name": "Acme", "domain": domain}}),
            )
            .await;
        assert_eq!(status, 201, "{body}");
    }
    let (status, body) = server.get(&format!("{accounts}/lookup?name=acme")).await;
    assert_error(status, &body, 409, "conflict");
    let (status, body) = server
        .post(
            &format!("{accounts}/upsert"),
            json!({"matchField": "name", "fields": {"name": "ACME"}}),
        )
        .await;
    assert_error(status, &body, 409, "conflict");

    // PUT replaces: what the body leaves out is cleared; versions are checked as on PATCH.
    let grace = created["record"]["id"].as_str().unwrap();
    let (status, body) = server
        .call(
            Method::PUT,
            &format!("{RECORDS}/{grace}"),
            json!({"fields": {"first_name": "Grace"}, "version": 9}),
        )
        .await;
    assert_error(status, &body, 409, "conflict");
    let (status, replaced) = server
        .call(
            Method::PUT,
            &format!("{RECORDS}/{grace}"),
            json!({"data": {"first_name": "Grace", "last_name": "Hopper"}, "version": 1}),
        )
        .await;
    assert_eq!(status, 200, "{replaced}");
    let fields = &replaced["record"]["fields"];
    assert_eq!(fields["last_name"], "Hopper");
    assert!(fields.get("email").is_none(), "email cleared: {fields}");
    assert_eq!(replaced["record"]["displayName"], "Grace Hopper");
    assert_eq!(replaced["record"]["version"], 2);
}
both!(http_replace_and_upserts, replace_and_upserts);

/// The same calls on the command line.
async fn cli_lookup_upsert_replace(db: TestDb) {
    let run = |args: &[&str]| -> Value {
        let mut all = vec!["records"];
        all.extend_from_slice(args);
        cli_json(&db, &all)
    };
    let created = run(&[
        "upsert-by",
        "-m",
        "contacts",
        "--match",
        "email",
        "--data",
        r#"{"fields": {"email": "ada@example.com", "first_name": "Ada"}}"#,
    ]);
    assert_eq!(created["created"], true);
    let id = created["record"]["id"].as_str().unwrap().to_string();
    let updated = run(&[
        "upsert-by",
        "-m",
        "contacts",
        "--match",
        "email",
        "--data",
        r#"{"fields": {"email": "ADA@example.com", "status": "lead"}}"#,
    ]);
    assert_eq!(updated["created"], false);
    assert_eq!(updated["record"]["id"], id.as_str());
    let found = run(&["lookup", "-m", "contacts", "email=Ada@Example.com"]);
    assert_eq!(found["record"]["fields"]["status"], "lead");
    let replaced = run(&[
        "replace",
        "-m",
        "contacts",
        &id,
        "--data",
        r#"{"fields": {"first_name": "Ada", "last_name": "King"}}"#,
    ]);
    assert!(replaced["record"]["fields"].get("email").is_none());
    let patched = run(&[
        "bulk-update",
        "-m",
        "contacts",
        "--data",
        &json!({"updates": [{"id": id, "fields": {"status": "customer"}}]}).to_string(),
    ]);
    assert_eq!(patched["records"][0]["fields"]["status"], "customer");

    let out = recordport_command()
        .args([
            "--db",
            &db.url,
            "records",
            "lookup",
            "-m",
            "contacts",
            "email=x@y.z",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3), "not found exits 3");
}
both!(cli_lookup_upsert_replace, cli_lookup_upsert_replace);
