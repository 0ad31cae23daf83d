//! Owners and privacy levels (specs 000 and 003) through a real server: a `private` record is
//! seen only by its owner, a `team` record by the owner's teammates too. A second member's key
//! sweeps every read path (get, list, search, lookup, expand, references, picker, versions,
//! history, changelog, trash, member counts, exports, report exports) and finds nothing private,
//! and cannot change what it cannot see. Webhooks created for a member hear only of what the
//! member sees (record, bulk and job events), and imports run for their key's member: the
//! records they create are the member's, and they never match nor name a hidden record. The
//! command line's `--member` acts the same.

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

/// The deliveries of webhook `id` as `key` sees them: (event, payload).
async fn deliveries(server: &Server, key: &str, id: &str) -> Vec<(String, Value)> {
    let (status, body) = as_key(
        server,
        key,
        Method::GET,
        &format!("/v1/webhooks/{id}/deliveries?limit=100"),
        Value::Null,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    body["deliveries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["event"].as_str().unwrap().to_string(),
                d["payload"].clone(),
            )
        })
        .collect()
}

/// Webhooks hear only of what the member of the key that made them may see, and imports run
/// for the member of their key: what they create is theirs, and they never match (update,
/// skip, or name) a record the member may not see.
async fn webhooks_and_imports_respect_privacy(db: TestDb) {
    // Nothing listens on port 9: deliveries stay logged with their payloads.
    let server = Server::start(&db, &["--allow-private-webhooks"]).await;
    let alice = member_key(&db, "alice", &[]).await;
    let bob = member_key(&db, "bob", &[]).await;
    let contacts = "/v1/modules/contacts/records";
    let events = json!([
        "record.created",
        "record.updated",
        "record.bulk.created",
        "record.bulk.updated",
        "import.completed"
    ]);
    let mut hooks = Vec::new();
    for key in [&bob, &server.key.clone()] {
        let (status, body) = as_key(
            &server,
            key,
            Method::POST,
            "/v1/webhooks",
            json!({"url": "http://127.0.0.1:9/hook", "events": events}),
        )
        .await;
        assert_eq!(status, 201, "{body}");
        hooks.push(body["webhook"]["id"].as_str().unwrap().to_string());
    }
    let (bob_hook, admin_hook) = (&hooks[0], &hooks[1]);

    let create = |body: Value| {
        let alice = alice.clone();
        let server = &server;
        async move {
            let (status, body) = as_key(server, &alice, Method::POST, contacts, body).await;
            assert_eq!(status, 201, "{body}");
            body["record"]["id"].as_str().unwrap().to_string()
        }
    };
    let secret = create(json!({"fields": {"email": "secret@example.com",
        "first_name": SECRET}, "privacyLevel": "private"}))
    .await;
    let shared = create(json!({"fields": {"email": "shared@example.com"}})).await;
    let (status, body) = as_key(
        &server,
        &alice,
        Method::PATCH,
        &format!("{contacts}/{secret}"),
        json!({"fields": {"status": "customer"}, "metadata": {"reason": "Private call"}}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = as_key(
        &server,
        &alice,
        Method::POST,
        &format!("{contacts}/bulk"),
        json!({"records": [
            {"fields": {"email": "bulk-private@example.com"}, "privacyLevel": "private"},
            {"fields": {"email": "bulk-shared@example.com"}}]}),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let bulk_ids: Vec<String> = body["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_string())
        .collect();

    // Bob's webhook heard of the shared records only; the administrator's of everything.
    let heard = deliveries(&server, &bob, bob_hook).await;
    let text = serde_json::to_string(&heard).unwrap();
    assert!(!text.contains(SECRET) && !text.contains(&secret), "{text}");
    assert!(!text.contains(&bulk_ids[0]), "{text}");
    assert_eq!(heard.len(), 2, "{text}");
    let event = |list: &[(String, Value)], name: &str| -> Vec<Value> {
        list.iter()
            .filter(|(e, _)| e == name)
            .map(|(_, p)| p["data"].clone())
            .collect()
    };
    let created = event(&heard, "record.created");
    assert_eq!(created.len(), 1, "{text}");
    assert_eq!(created[0]["record"]["id"], shared.as_str());
    let bulk = event(&heard, "record.bulk.created");
    assert_eq!(bulk[0]["recordIds"], json!([bulk_ids[1]]));
    assert_eq!(bulk[0]["count"], 1);
    let all = deliveries(&server, &server.key, admin_hook).await;
    assert_eq!(all.len(), 4, "{all:?}");
    let update = &event(&all, "record.updated")[0];
    assert_eq!(update["record"]["id"], secret.as_str());
    assert_eq!(update["metadata"]["reason"], "Private call");
    assert_eq!(update["metadata"]["source"], "api");
    let bulk = &event(&all, "record.bulk.created")[0];
    assert_eq!(bulk["recordIds"].as_array().unwrap().len(), 2);

    // Bob imports rows that match alice's private record and a shared one, with update.
    let (status, result) = as_key(
        &server,
        &bob,
        Method::POST,
        "/v1/modules/contacts/import/execute",
        json!({"rows": [
                {"Email": "SECRET@example.com", "Status": "churned"},
                {"Email": "shared@example.com", "Status": "active"},
                {"Email": "bob-new@example.com", "Status": "lead"}],
            "columnMapping": [{"sourceColumn": "Email", "targetFieldSlug": "email"},
                {"sourceColumn": "Status", "targetFieldSlug": "status"}],
            "duplicateStrategy": "update", "duplicateMatchFields": ["email"]}),
    )
    .await;
    assert_eq!(status, 200, "{result}");
    let data = &result["data"];
    assert_eq!(data["successRows"], 2, "{result}");
    assert_eq!(data["errorRows"], 1, "{result}");
    // The private record's email is unique: the row fails, naming no record.
    let error = &data["errors"][0];
    assert_eq!(error["row"], 1, "{result}");
    let message = error["error"].as_str().unwrap();
    assert!(
        message.contains("another record") && !message.contains(&secret),
        "{message}"
    );
    let job_id = data["importJobId"].as_str().unwrap();
    let (_, job) = as_key(
        &server,
        &bob,
        Method::GET,
        &format!("/v1/modules/contacts/import/jobs/{job_id}"),
        Value::Null,
    )
    .await;
    assert_eq!(job["data"]["memberId"], "bob", "{job}");
    let created = data["createdRecordIds"][0].as_str().unwrap();
    let (_, mine) = as_key(
        &server,
        &bob,
        Method::GET,
        &format!("{contacts}/{created}"),
        Value::Null,
    )
    .await;
    assert_eq!(mine["record"]["ownerId"], "bob", "{mine}");
    let (_, untouched) = server.get(&format!("{contacts}/{secret}")).await;
    assert_eq!(untouched["record"]["fields"]["status"], "customer");
    assert_eq!(untouched["record"]["version"], 2);
    let (_, updated) = server.get(&format!("{contacts}/{shared}")).await;
    assert_eq!(updated["record"]["fields"]["status"], "active");
    // Skip never reveals a hidden record either: a non-unique match field (the phone) on a
    // record bob may not see is no match, so the row creates bob's own record.
    let (status, body) = as_key(
        &server,
        &alice,
        Method::PATCH,
        &format!("{contacts}/{secret}"),
        json!({"fields": {"phone": "+44 20 7946 0958"}}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let (status, result) = as_key(
        &server,
        &bob,
        Method::POST,
        "/v1/modules/contacts/import/execute",
        json!({"rows": [{"Phone": "+44 20 7946 0958", "Email": "bob-phone@example.com"}],
            "columnMapping": [{"sourceColumn": "Phone", "targetFieldSlug": "phone", "valueType": "Mobile"},
                {"sourceColumn": "Email", "targetFieldSlug": "email"}],
            "duplicateStrategy": "skip", "duplicateMatchFields": ["phone"]}),
    )
    .await;
    assert_eq!(status, 200, "{result}");
    assert_eq!(result["data"]["skippedRows"], 0, "{result}");
    assert_eq!(result["data"]["successRows"], 1, "{result}");
    // The import's batch event reached bob's webhook with bob's own records only.
    let heard = deliveries(&server, &bob, bob_hook).await;
    let text = serde_json::to_string(&heard).unwrap();
    assert!(!text.contains(&secret), "{text}");
    assert!(
        heard.iter().any(|(e, p)| e == "record.bulk.created"
            && p["data"]["metadata"]["source"] == "import"
            && p["data"]["recordIds"] == json!([created])),
        "{text}"
    );
    // Job events: the administrator's import is not bob's to hear of; his own are.
    let (status, result) = server
        .post(
            "/v1/modules/contacts/import/execute",
            json!({"rows": [{"Email": "admin-row@example.com"}],
                "columnMapping": [{"sourceColumn": "Email", "targetFieldSlug": "email"}]}),
        )
        .await;
    assert_eq!(status, 200, "{result}");
    let heard = deliveries(&server, &bob, bob_hook).await;
    let jobs: Vec<&Value> = heard
        .iter()
        .filter(|(e, _)| e == "import.completed")
        .map(|(_, p)| &p["data"]["job"]["memberId"])
        .collect();
    assert_eq!(jobs, [&json!("bob"), &json!("bob")]);
    let all = deliveries(&server, &server.key, admin_hook).await;
    assert_eq!(
        all.iter().filter(|(e, _)| e == "import.completed").count(),
        3
    );

    // The command line acts the same for --member: a webhook for bob, an import for bob.
    let hook = cli_json(
        &db,
        &[
            "--member",
            "bob",
            "webhook",
            "create",
            "--url",
            "http://127.0.0.1:9/cli",
            "--events",
            "record.created",
            "--allow-private-webhooks",
        ],
    );
    assert_eq!(hook["webhook"]["memberId"], "bob", "{hook}");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bob.csv");
    std::fs::write(
        &file,
        "Email,Status\nsecret@example.com,lead\nbob-cli@example.com,lead\n",
    )
    .unwrap();
    let run = cli_json(
        &db,
        &[
            "--member",
            "bob",
            "import",
            "run",
            file.to_str().unwrap(),
            "--module",
            "contacts",
            "--strategy",
            "update",
            "--match",
            "email",
        ],
    );
    assert_eq!(run["data"]["errorRows"], 1, "{run}");
    assert_eq!(run["data"]["successRows"], 1, "{run}");
    let text = run.to_string();
    assert!(!text.contains(&secret), "{text}");
    let id = run["data"]["createdRecordIds"][0].as_str().unwrap();
    let (_, record) = server.get(&format!("{contacts}/{id}")).await;
    assert_eq!(record["record"]["ownerId"], "bob", "{record}");
}
both!(
    http_webhooks_and_imports_respect_privacy,
    webhooks_and_imports_respect_privacy
);
