//! CQL (spec 004) through a real server (`POST /v1/query`) and the real binary
//! (`recordport query`), on SQLite and PostgreSQL: filters, parameters, sort and pages, search,
//! groups, includes, errors with their place, and values and names that never reach SQL.

use recordport::apikeys::Scope;
use serde_json::{Value, json};

use crate::both;
use crate::common::{TestDb, recordport_command};
use crate::http_support::{Server, assert_error, key_with};

/// Creates a record through the API; its id.
async fn create(server: &Server, module: &str, fields: Value) -> String {
    let (status, body) = server
        .post(
            &format!("/v1/modules/{module}/records"),
            json!({ "fields": fields }),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    body["record"]["id"].as_str().unwrap().to_string()
}

async fn query(server: &Server, text: &str, parameters: Value) -> Value {
    let (status, body) = server
        .post(
            "/v1/query",
            json!({ "query": text, "parameters": parameters }),
        )
        .await;
    assert_eq!(status, 200, "{text}: {body}");
    body
}

fn ids(body: &Value) -> Vec<&str> {
    body["results"]
        .as_array()
        .unwrap_or_else(|| panic!("results: {body}"))
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect()
}

/// Two accounts and four contacts; the contacts' ids in creation order.
async fn seed(server: &Server) -> (String, String, Vec<String>) {
    let acme = create(
        server,
        "accounts",
        json!({"name": "Acme", "domain": "acme.com", "employees": 50}),
    )
    .await;
    let globex = create(
        server,
        "accounts",
        json!({"name": "Globex", "domain": "globex.com"}),
    )
    .await;
    let mut contacts = Vec::new();
    for (first, email, value, status, account, notes) in [
        (
            "Ada",
            "ada@acme.com",
            500,
            "lead",
            &acme,
            "machine learning pioneer",
        ),
        (
            "Grace",
            "grace@acme.com",
            1500,
            "customer",
            &acme,
            "compilers",
        ),
        (
            "Linus",
            "linus@globex.com",
            250,
            "lead",
            &globex,
            "learning machine kernels",
        ),
        ("Ken", "ken@example.com", 90, "churned", &globex, "unix"),
    ] {
        contacts.push(
            create(
                server,
                "contacts",
                json!({"first_name": first, "email": email, "deal_value": value,
                       "status": status, "account": account, "notes": notes}),
            )
            .await,
        );
    }
    (acme, globex, contacts)
}

async fn query_records(db: TestDb) {
    let server = Server::start(&db, &[]).await;
    let (acme, globex, c) = seed(&server).await;
    let (ada, grace, linus, ken) = (&c[0], &c[1], &c[2], &c[3]);

    // Spec 004's shapes: BETWEEN, parentheses, OR, parameters, ORDER BY, LIMIT; module by name.
    let body = query(
        &server,
        "FROM Contacts WHERE deal_value BETWEEN :low AND 2000 AND (status = \"lead\" OR status = 'customer')\n\
         ORDER BY deal_value DESC LIMIT 2",
        json!({"low": 100}),
    )
    .await;
    assert_eq!(ids(&body), [grace.as_str(), ada]);
    assert_eq!(
        body["pagination"],
        json!({"limit": 2, "offset": 0, "total": 3, "hasMore": true})
    );
    assert_eq!(body["results"][0]["fields"]["first_name"], "Grace");
    assert_eq!(body["results"][0]["moduleSlug"], "contacts");
    let body = query(
        &server,
        "from contacts where deal_value between :low and 2000 and (status = 'lead' or status = 'customer') \
         order by deal_value desc limit 2 offset 2",
        json!({"low": 100}),
    )
    .await;
    assert_eq!(ids(&body), [linus.as_str()]);
    assert_eq!(body["pagination"]["hasMore"], false);

    // IN, NOT, IS NULL, comparisons on core fields, a parameter list; SEARCH: every word in one
    // of the fields.
    let by_id = format!(
        "FROM contacts WHERE id IN ('{ken}', '{ada}') AND createdAt > '2000-01-01T00:00:00Z' \
         ORDER BY createdAt"
    );
    for (text, parameters, want) in [
        (
            "FROM contacts WHERE status NOT IN :skip AND NOT deal_value < 200 AND job_title IS NULL \
             ORDER BY first_name",
            json!({"skip": ["customer"]}),
            [ada, linus],
        ),
        (by_id.as_str(), json!({}), [ada, ken]),
        (
            "FROM contacts WHERE SEARCH(\"machine learning\") IN (notes, email) ORDER BY first_name",
            json!({}),
            [ada, linus],
        ),
        (
            "FROM contacts WHERE NOT SEARCH(:q) IN (notes) ORDER BY first_name",
            json!({"q": "machine"}),
            [grace, ken],
        ),
    ] {
        let body = query(&server, text, parameters).await;
        assert_eq!(ids(&body), want.map(String::as_str), "{text}");
    }

    // SELECT picks fields of plain records.
    let body = query(
        &server,
        "FROM contacts SELECT email WHERE first_name = 'Ada'",
        json!({}),
    )
    .await;
    assert_eq!(
        body["results"][0]["fields"],
        json!({"email": "ada@acme.com"})
    );

    // GROUP BY with aggregates, sorted by one of them.
    let body = query(
        &server,
        "FROM contacts GROUP BY status SELECT status, COUNT(*) AS n, SUM(deal_value) AS total, \
         MAX(deal_value) ORDER BY total DESC",
        json!({}),
    )
    .await;
    assert_eq!(
        body["groups"],
        json!([
            {"status": "customer", "n": 1, "total": 1500.0, "max_deal_value": 1500.0},
            {"status": "lead", "n": 2, "total": 750.0, "max_deal_value": 500.0},
            {"status": "churned", "n": 1, "total": 90.0, "max_deal_value": 90.0}
        ]),
        "{body}"
    );
    assert_eq!(body["pagination"]["hasMore"], false);
    let body = query(
        &server,
        "FROM contacts WHERE status != 'churned' SELECT COUNT(*) AS n, AVG(deal_value) AS mean",
        json!({}),
    )
    .await;
    assert_eq!(body["groups"], json!([{"n": 3, "mean": 750.0}]));
    let body = query(&server, "FROM contacts GROUP BY account LIMIT 1", json!({})).await;
    assert_eq!(body["groups"].as_array().unwrap().len(), 1);
    assert_eq!(body["pagination"]["hasMore"], true);

    // INCLUDE both ways: the contacts of each account, the account of each contact.
    let body = query(
        &server,
        "FROM Accounts ORDER BY name\n\
         INCLUDE people FROM Contacts WHERE account = Accounts.id AND deal_value >= 100\n\
         INCLUDE ledger FROM deals WHERE account = accounts.id",
        json!({}),
    )
    .await;
    assert_eq!(ids(&body), [acme.as_str(), &globex]);
    let people = |i: usize| -> Vec<&str> {
        body["results"][i]["included"]["people"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["id"].as_str().unwrap())
            .collect()
    };
    assert_eq!(people(0), [ada.as_str(), grace]);
    assert_eq!(people(1), [linus.as_str()], "Ken's deal is below 100");
    assert_eq!(body["results"][1]["included"]["ledger"], json!([]));
    let body = query(
        &server,
        "FROM contacts WHERE first_name = 'Ken' INCLUDE company FROM accounts WHERE id = contacts.account",
        json!({}),
    )
    .await;
    assert_eq!(
        body["results"][0]["included"]["company"][0]["id"],
        globex.as_str()
    );
    assert_eq!(
        body["results"][0]["included"]["company"][0]["fields"]["name"],
        "Globex"
    );
}
both!(http_query_records, query_records);

async fn query_errors_and_injection(db: TestDb) {
    let server = Server::start(&db, &[]).await;
    let (_, _, c) = seed(&server).await;
    let hostile = "x'); DROP TABLE records; --";
    let odd = create(
        &server,
        "contacts",
        json!({"first_name": hostile, "notes": "a \"quoted\"; value"}),
    )
    .await;

    // The place and the fix.
    let (status, body) = server
        .post(
            "/v1/query",
            json!({"query": "FROM contacts WHERE dealvalue > 5"}),
        )
        .await;
    assert_error(status, &body, 400, "validation_error");
    assert_eq!(
        body["error"]["message"],
        "line 1, column 21: unknown field \"dealvalue\" in contacts (did you mean deal_value?)"
    );
    assert_eq!(body["error"]["details"], json!({"line": 1, "column": 21}));
    for (text, place) in [
        (
            "FROM contacts\nWHERE status = 'lead' AND",
            "line 2, column 26",
        ),
        ("FROM contacts WHERE notes = \"open", "line 1, column 29"),
        ("FROM kontacts", "line 1, column 6"),
        (
            "FROM contacts WHERE deal_value > 'lots'",
            "line 1, column 34",
        ),
        ("FROM contacts WHERE deal_value > :min", "line 1, column 34"),
    ] {
        let (status, body) = server.post("/v1/query", json!({"query": text})).await;
        assert_error(status, &body, 400, "validation_error");
        let message = body["error"]["message"].as_str().unwrap();
        assert!(message.starts_with(place), "{text}: {message}");
    }
    let deep = format!(
        "FROM contacts WHERE {}status = 'lead'{}",
        "(".repeat(2000),
        ")".repeat(2000)
    );
    let (status, body) = server.post("/v1/query", json!({"query": deep})).await;
    assert_error(status, &body, 400, "validation_error");
    let (status, body) = server
        .post("/v1/query", json!({"query": "FROM contacts", "params": {}}))
        .await;
    assert_error(status, &body, 400, "validation_error");

    // Values with quotes and semicolons are values: bound, matched literally.
    let body = query(
        &server,
        "FROM contacts WHERE first_name = 'x''); DROP TABLE records; --'",
        json!({}),
    )
    .await;
    assert_eq!(ids(&body), [odd.as_str()]);
    let body = query(
        &server,
        "FROM contacts WHERE first_name = :name OR notes = :notes",
        json!({"name": "nobody' OR '1'='1", "notes": "a \"quoted\"; value"}),
    )
    .await;
    assert_eq!(ids(&body), [odd.as_str()]);
    let body = query(
        &server,
        "FROM contacts WHERE SEARCH(\"'; DELETE FROM records; --\") IN (first_name)",
        json!({}),
    )
    .await;
    assert_eq!(ids(&body), [] as [&str; 0]);
    // Names with quotes and semicolons are refused before anything reaches SQL.
    for text in [
        "FROM contacts WHERE \"first_name\" = 'x'",
        "FROM contacts WHERE first_name; DROP TABLE records = 'x'",
        "FROM contacts; DROP TABLE records",
        "FROM contacts ORDER BY first_name; DROP TABLE records",
        "FROM contacts GROUP BY status SELECT COUNT(first_name) AS \"n; DROP\"",
    ] {
        let (status, body) = server.post("/v1/query", json!({"query": text})).await;
        assert_error(status, &body, 400, "validation_error");
    }
    let body = query(&server, "FROM contacts", json!({})).await;
    assert_eq!(
        body["pagination"]["total"],
        c.len() + 1,
        "every record is still there"
    );

    // records:read is needed.
    let importer = key_with(&db, &[Scope::ImportsRead]).await;
    let (status, body) = server
        .call_with(
            Some(&importer),
            reqwest::Method::POST,
            "/v1/query",
            json!({"query": "FROM contacts"}),
        )
        .await;
    assert_error(status, &body, 403, "forbidden");
}
both!(http_query_errors_and_injection, query_errors_and_injection);

/// The same language on the command line.
async fn cli_query(db: TestDb) {
    let server = Server::start(&db, &[]).await;
    let (_, _, c) = seed(&server).await;
    drop(server);
    // `recordport --db URL query ARGS…`: exit code, stdout, stderr.
    let run = |args: &[&str]| {
        let out = recordport_command()
            .args(["--db", &db.url])
            .args(args)
            .output()
            .unwrap();
        let text = |bytes: &[u8]| String::from_utf8_lossy(bytes).to_string();
        (out.status.code(), text(&out.stdout), text(&out.stderr))
    };
    let (code, stdout, stderr) = run(&[
        "--json",
        "query",
        "FROM contacts WHERE deal_value > :min AND status IN :statuses ORDER BY deal_value",
        "--param",
        "min=100",
        "--param",
        r#"statuses=["lead","customer"]"#,
    ]);
    assert_eq!(code, Some(0), "{stderr}");
    let body: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(ids(&body), [c[2].as_str(), &c[0], &c[1]]);

    let (code, table, stderr) = run(&["query", "FROM contacts GROUP BY status"]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(
        table.contains("churned") && table.contains("3 groups"),
        "{table}"
    );

    let (code, _, stderr) = run(&["query", "FROM contacts WHERE name = Ada"]);
    assert_eq!(code, Some(2), "bad input exits 2");
    assert!(
        stderr.contains("line 1, column 28: \"Ada\" is a name, not a value"),
        "{stderr}"
    );
    let (code, _, stderr) = run(&["query", "FROM contacts", "--param", "min"]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("NAME=VALUE"), "{stderr}");
}
both!(cli_query, cli_query);
