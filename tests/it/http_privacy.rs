//! Owners and privacy levels (specs 000 and 003) through a real server: a `private` record is
//! seen only by its owner, a `team` record by the owner's teammates too. A second member's key
//! sweeps every read path (get, list, search, lookup, expand, references, picker, versions,
//! history, changelog, trash, member counts, exports, report exports) and finds nothing private,
//! and cannot change what it cannot see. The command line's `--member` acts the same.

use recordport::apikeys::{self, Scope};
use recordport::records::members;
use reqwest::Method;
use serde_json::{Value, json};

use crate::both;
use crate::common::{TestDb, cli_json};
use crate::http_support::{Server, assert_error};

const SECRET: &str = "Zanzibar";

async fn member_key(db: &TestDb, member: &str, teams: &[&str]) -> String {
    let store = db.service.store();
    for team in teams {
        members::join_team(store, member, team).await.unwrap();
    }
    apikeys::create_for(store, member, &Scope::ALL, Some(member))
        .await
        .unwrap()
        .secret
}

/// Sends with `key`; status and JSON body (non-JSON bodies come back as a string).
async fn as_key(
    server: &Server,
    key: &str,
    method: Method,
    path: &str,
    body: Value,
) -> (u16, Value) {
    let (status, body) = server.call_with(Some(key), method, path, body).await;
    (status.as_u16(), body)
}

async fn text_as(server: &Server, key: &str, method: Method, path: &str, body: Value) -> String {
    let response = server
        .client
        .request(method, server.url(path))
        .bearer_auth(key)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert!(
        response.status().is_success(),
        "{path}: {}",
        response.status()
    );
    response.text().await.unwrap()
}

async fn private_records_do_not_leak(db: TestDb) {
    let server = Server::start(&db, &[]).await;
    let alice = member_key(&db, "alice", &["sales"]).await;
    let bob = member_key(&db, "bob", &["sales"]).await;
    let carol = member_key(&db, "carol", &[]).await;
    let contacts = "/v1/modules/contacts/records";

    // Alice's records: a private account and contact, a team contact, an account-wide contact.
    let create = |body: Value, module: &'static str| {
        let alice = alice.clone();
        let server = &server;
        async move {
            let (status, body) = as_key(
                server,
                &alice,
                Method::POST,
                &format!("/v1/modules/{module}/records"),
                body,
            )
            .await;
            assert_eq!(status, 201, "{body}");
            assert_eq!(body["record"]["ownerId"], "alice");
            body["record"]["id"].as_str().unwrap().to_string()
        }
    };
    let private_account = create(
        json!({"fields": {"name": format!("{SECRET} Ltd"), "domain": "zanzibar.example"}, "privacyLevel": "private"}),
        "accounts",
    )
    .await;
    let private = create(
        json!({"fields": {"first_name": SECRET, "email": "secret@example.com", "account": private_account}, "privacyLevel": "private"}),
        "contacts",
    )
    .await;
    let team = create(
        json!({"fields": {"first_name": "Teamwork", "email": "team@example.com"}, "privacyLevel": "team"}),
        "contacts",
    )
    .await;
    create(
        json!({"fields": {"first_name": "Everyone", "email": "all@example.com"}}),
        "contacts",
    )
    .await;
    // Carol's own record points at Alice's private account.
    let (_, own) = as_key(
        &server,
        &carol,
        Method::POST,
        contacts,
        json!({"fields": {"first_name": "Carol", "account": private_account}}),
    )
    .await;
    let carols = own["record"]["id"].as_str().unwrap().to_string();

    let names = |list: &Value| -> Vec<String> {
        let mut names: Vec<String> = list["records"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                r["fields"]["first_name"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string()
            })
            .collect();
        names.sort();
        names
    };
    let (_, list) = as_key(&server, &alice, Method::GET, contacts, Value::Null).await;
    assert_eq!(names(&list), ["Carol", "Everyone", "Teamwork", SECRET]);
    let (_, list) = as_key(&server, &bob, Method::GET, contacts, Value::Null).await;
    assert_eq!(
        names(&list),
        ["Carol", "Everyone", "Teamwork"],
        "bob shares a team"
    );
    let (_, list) = as_key(&server, &server.key, Method::GET, contacts, Value::Null).await;
    assert_eq!(
        list["records"].as_array().unwrap().len(),
        4,
        "an administrator's key sees all"
    );

    // Carol sweeps every read path and finds nothing of the private records.
    let reads = [
        contacts.to_string(),
        format!("{contacts}?search={SECRET}"),
        format!("{contacts}?filter[email]=secret@example.com"),
        format!("{contacts}?expand=account"),
        format!("{contacts}/{carols}?expand=account"),
        format!("{contacts}/lookup?email=team@example.com"),
        format!("/v1/modules/contacts/references/account/records/{carols}"),
        format!("/v1/modules/contacts/references/account/picker?search={SECRET}"),
        "/v1/modules/accounts/records".to_string(),
        "/v1/modules/contacts/records/trash".to_string(),
    ];
    for path in &reads {
        let (status, body) = as_key(&server, &carol, Method::GET, path, Value::Null).await;
        let text = body.to_string();
        assert!(
            !text.contains(SECRET) && !text.contains("Teamwork") && !text.contains(&private),
            "{path} ({status}) leaks: {text}"
        );
    }
    for path in [
        format!("{contacts}/{private}"),
        format!("{contacts}/{private}/versions"),
        format!("{contacts}/{private}/history"),
        format!("{contacts}/{private}/changelog"),
        format!("{contacts}/{private}?version=1"),
        format!("{contacts}/lookup?email=secret@example.com"),
        format!("/v1/modules/accounts/records/{private_account}"),
    ] {
        let (status, body) = as_key(&server, &carol, Method::GET, &path, Value::Null).await;
        assert_eq!(status, 404, "{path}: {body}");
    }
    // CQL goes through the same plan: no private record in results, groups or includes.
    for query in [
        "FROM contacts".to_string(),
        format!("FROM contacts WHERE first_name = \"{SECRET}\""),
        "FROM contacts GROUP BY status SELECT status, COUNT(*) AS n".to_string(),
        "FROM accounts INCLUDE people FROM contacts WHERE account = accounts.id".to_string(),
    ] {
        let (status, body) = as_key(
            &server,
            &carol,
            Method::POST,
            "/v1/query",
            json!({"query": query}),
        )
        .await;
        assert_eq!(status, 200, "{query}: {body}");
        let text = body.to_string();
        assert!(
            !text.contains(SECRET) && !text.contains("Teamwork") && !text.contains(&private),
            "{query}: {text}"
        );
    }
    let (_, grouped) = as_key(
        &server,
        &carol,
        Method::POST,
        "/v1/query",
        json!({"query": "FROM contacts GROUP BY status SELECT status, COUNT(*) AS n"}),
    )
    .await;
    let counted: u64 = grouped["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["n"].as_u64().unwrap())
        .sum();
    assert_eq!(
        counted, 2,
        "carol's and the account-wide contact: {grouped}"
    );

    // What Carol cannot see she cannot change.
    for (method, path, body) in [
        (
            Method::PATCH,
            format!("{contacts}/{private}"),
            json!({"fields": {"first_name": "X"}}),
        ),
        (
            Method::PUT,
            format!("{contacts}/{private}"),
            json!({"fields": {"first_name": "X"}}),
        ),
        (Method::DELETE, format!("{contacts}/{private}"), Value::Null),
    ] {
        let (status, body) = as_key(&server, &carol, method, &path, body).await;
        assert_eq!(status, 404, "{path}: {body}");
    }
    let (_, bulk) = as_key(
        &server,
        &carol,
        Method::POST,
        &format!("{contacts}/bulk-delete"),
        json!({"recordIds": [private, team]}),
    )
    .await;
    assert_eq!(bulk["deleted"], 0, "{bulk}");

    // Counts, exports and report exports hold only what Carol may see.
    let (status, counts) = as_key(
        &server,
        &carol,
        Method::GET,
        "/v1/member-record-counts?memberId=alice",
        Value::Null,
    )
    .await;
    assert_eq!(status, 200, "{counts}");
    assert_eq!(counts["counts"]["contacts"], 1);
    assert_eq!(counts["counts"]["accounts"], 0);
    let (_, counts) = as_key(
        &server,
        &alice,
        Method::GET,
        "/v1/member-record-counts?memberId=alice",
        Value::Null,
    )
    .await;
    assert_eq!(counts["counts"]["contacts"], 3);
    let csv = text_as(
        &server,
        &carol,
        Method::POST,
        "/v1/modules/contacts/export",
        json!({"format": "csv", "forMember": "alice"}),
    )
    .await;
    assert!(
        csv.contains("Everyone") && !csv.contains(SECRET) && !csv.contains("Teamwork"),
        "{csv}"
    );
    let (status, report) = as_key(
        &server,
        &carol,
        Method::POST,
        "/v1/reports",
        json!({"name": "all", "module": "contacts"}),
    )
    .await;
    assert_eq!(status, 201, "{report}");
    let report_id = report["report"]["id"].as_str().unwrap();
    let csv = text_as(
        &server,
        &carol,
        Method::POST,
        &format!("/v1/reports/{report_id}/export"),
        json!({"format": "csv"}),
    )
    .await;
    assert!(!csv.contains(SECRET), "{csv}");
    let csv = text_as(
        &server,
        &alice,
        Method::POST,
        &format!("/v1/reports/{report_id}/export"),
        json!({"format": "csv"}),
    )
    .await;
    assert!(csv.contains(SECRET), "the owner's export has it: {csv}");

    // The owner can hand a record over; the new owner sees it, the old one no longer does.
    let (status, moved) = as_key(
        &server,
        &alice,
        Method::PATCH,
        &format!("{contacts}/{private}"),
        json!({"ownerId": "carol"}),
    )
    .await;
    assert_eq!(status, 200, "{moved}");
    let (status, _) = as_key(
        &server,
        &carol,
        Method::GET,
        &format!("{contacts}/{private}"),
        Value::Null,
    )
    .await;
    assert_eq!(status, 200);
    let (status, body) = as_key(
        &server,
        &alice,
        Method::GET,
        &format!("{contacts}/{private}"),
        Value::Null,
    )
    .await;
    assert_error(
        reqwest::StatusCode::from_u16(status).unwrap(),
        &body,
        404,
        "not_found",
    );

    // The command line acting for a member sees what the member's key sees.
    let listed = cli_json(
        &db,
        &["--member", "bob", "records", "list", "-m", "contacts"],
    );
    assert_eq!(names(&listed), ["Carol", "Everyone", "Teamwork"]);
    let counts = cli_json(&db, &["--member", "bob", "member", "counts", "alice"]);
    assert_eq!(
        counts["counts"]["contacts"], 2,
        "bob sees alice's team and account records"
    );
}
both!(
    http_private_records_do_not_leak,
    private_records_do_not_leak
);
