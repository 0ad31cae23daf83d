//! Spec 002's exports through a real server: a direct CSV download, an export job polled to
//! completion and downloaded (its `fileUrl` absolute, from the Host or `--public-url`), the
//! job list with the store's `accountId`, and saved reports with their export.

use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};

use crate::both;
use crate::common::TestDb;
use crate::http_support::{Server, assert_error, json_of};

async fn add_contacts(server: &Server) {
    for (i, status) in ["lead", "active", "lead"].iter().enumerate() {
        let (code, body) = server
            .post(
                "/v1/modules/contacts/records",
                json!({"displayName": format!("Person {i}"),
                    "fields": {"email": format!("p{i}@example.com"), "status": status}}),
            )
            .await;
        assert_eq!(code, 201, "{body}");
    }
}

async fn export_body(server: &Server, path: &str, body: Value) -> reqwest::Response {
    server
        .request(Method::POST, path)
        .json(&body)
        .send()
        .await
        .expect("export")
}

/// Polls an export job until it leaves pending/processing.
async fn wait_for_export(server: &Server, id: &str) -> Value {
    for _ in 0..200 {
        let (status, job) = server.get(&format!("/v1/export-jobs/{id}")).await;
        assert_eq!(status, 200, "{job}");
        if !matches!(job["status"].as_str(), Some("pending" | "processing")) {
            return job;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("export job {id} did not finish");
}

async fn direct_and_job_exports(db: TestDb) {
    let server = Server::start(&db, &[]).await;
    add_contacts(&server).await;
    let request = json!({"format": "csv", "config": {"columns": ["displayName", "email", "status"],
        "sortField": "email", "sortDirection": "asc"}});

    let response = export_body(&server, "/v1/modules/contacts/export", request.clone()).await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"],
        "text/csv; charset=utf-8"
    );
    let disposition = response.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        disposition.starts_with("attachment; filename=\"contacts-export-")
            && disposition.ends_with(".csv\""),
        "{disposition}"
    );
    let direct = response.text().await.unwrap();
    let lines: Vec<&str> = direct.lines().collect();
    assert_eq!(lines.len(), 4, "{direct}");
    assert_eq!(lines[1], "Person 0,p0@example.com,lead");

    // The same export as a job: 202, then the file to download.
    let response = export_body(&server, "/v1/modules/contacts/export?job=true", request).await;
    let (status, job) = json_of(response).await;
    assert_eq!(status, 202, "{job}");
    assert_eq!(job["sourceType"], "module");
    assert!(job.get("filePath").is_none());
    let id = job["exportJobId"].as_str().unwrap().to_string();
    let job = wait_for_export(&server, &id).await;
    assert_eq!(job["status"], "completed", "{job}");
    assert_eq!(job["progress"], 100);
    assert_eq!(job["processedRecords"], 3);
    // An absolute URL, from the request's Host; the job names the store's account.
    let url = job["fileUrl"].as_str().unwrap();
    assert_eq!(url, server.url(&format!("/v1/export-jobs/{id}/download")));
    assert!(
        job["accountId"].as_str().unwrap().starts_with("acc_"),
        "{job}"
    );
    let response = server
        .client
        .get(url)
        .bearer_auth(&server.key)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"],
        "text/csv; charset=utf-8"
    );
    assert_eq!(
        response.headers()["content-length"].to_str().unwrap(),
        job["fileSizeBytes"].to_string()
    );
    assert_eq!(response.text().await.unwrap(), direct);

    let (status, body) = server
        .call(
            Method::DELETE,
            &format!("/v1/export-jobs/{id}"),
            Value::Null,
        )
        .await;
    assert_error(status, &body, 409, "conflict");

    let (status, jobs) = server.get("/v1/export-jobs?limit=5").await;
    assert_eq!(status, 200);
    assert_eq!(jobs["jobs"][0]["exportJobId"], id.as_str());
    // Links follow the Host the client used; one that is not a plain name[:port] is refused.
    let listed = |host: &'static str| {
        server
            .request(Method::GET, "/v1/export-jobs?limit=5")
            .header("host", host)
            .send()
    };
    let (status, jobs) = json_of(listed("records.example.com:8443").await.unwrap()).await;
    assert_eq!(status, 200, "{jobs}");
    assert_eq!(
        jobs["jobs"][0]["fileUrl"],
        format!("http://records.example.com:8443/v1/export-jobs/{id}/download")
    );
    let (status, body) = json_of(listed("someone@evil.example").await.unwrap()).await;
    assert_error(status, &body, 400, "validation_error");

    let response = export_body(
        &server,
        "/v1/modules/contacts/export",
        json!({"format": "pdf", "config": {"title": "Contacts"}}),
    )
    .await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/pdf");
    assert!(response.bytes().await.unwrap().starts_with(b"%PDF"));

    let response = export_body(
        &server,
        "/v1/modules/contacts/export",
        json!({"format": "xls"}),
    )
    .await;
    let (status, body) = json_of(response).await;
    assert_error(status, &body, 400, "validation_error");
    let response = export_body(
        &server,
        "/v1/modules/contacts/export",
        json!({"format": "csv", "config": {"limit": 100001}}),
    )
    .await;
    let (status, body) = json_of(response).await;
    assert_error(status, &body, 400, "validation_error");
    let (status, body) = server.get("/v1/export-jobs/exp_missing/download").await;
    assert_error(status, &body, 404, "not_found");
}
both!(http_direct_and_job_exports, direct_and_job_exports);

/// Behind a proxy the server is told its public URL: links start with it, whatever the Host.
async fn public_url_and_account(db: TestDb) {
    let server = Server::start(&db, &["--public-url", "https://records.example.com/crm/"]).await;
    add_contacts(&server).await;
    let response = export_body(
        &server,
        "/v1/modules/contacts/export?job=true",
        json!({"format": "csv"}),
    )
    .await;
    let (status, job) = json_of(response).await;
    assert_eq!(status, 202, "{job}");
    let id = job["exportJobId"].as_str().unwrap().to_string();
    let job = wait_for_export(&server, &id).await;
    assert_eq!(
        job["fileUrl"],
        format!("https://records.example.com/crm/v1/export-jobs/{id}/download")
    );
    let (_, jobs) = server.get("/v1/export-jobs").await;
    assert_eq!(jobs["jobs"][0]["fileUrl"], job["fileUrl"]);
    // One store, one account: export and import jobs name the same one, every time.
    let account = job["accountId"].as_str().unwrap().to_string();
    assert!(
        account.starts_with("acc_") && account.len() > 10,
        "{account}"
    );
    let (status, imported) = server
        .post(
            "/v1/modules/contacts/import/execute",
            json!({"rows": [{"Email": "new@example.com"}],
                "columnMapping": [{"sourceColumn": "Email", "targetFieldSlug": "email"}]}),
        )
        .await;
    assert_eq!(status, 200, "{imported}");
    let job_id = imported["data"]["importJobId"].as_str().unwrap();
    let (_, import_job) = server
        .get(&format!("/v1/modules/contacts/import/jobs/{job_id}"))
        .await;
    assert_eq!(import_job["data"]["accountId"], account.as_str());

    // A public URL that is not an absolute http(s) URL is refused at start.
    let out = crate::common::recordport_process()
        .args(["--db", &db.url, "serve", "--bind", "127.0.0.1:0"])
        .args(["--public-url", "records.example.com"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("--public-url"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
both!(http_export_public_url_and_account, public_url_and_account);

async fn saved_reports(db: TestDb) {
    let server = Server::start(&db, &[]).await;
    add_contacts(&server).await;
    let (status, created) = server
        .post(
            "/v1/reports",
            json!({"name": "Leads", "module": "contacts", "config": {
                "columns": ["displayName", "email"], "filter": {"status": "lead"},
                "sortField": "email", "sortDirection": "desc"}}),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    let id = created["report"]["id"].as_str().unwrap().to_string();
    assert_eq!(created["report"]["moduleSlug"], "contacts");

    let (_, list) = server.get("/v1/reports").await;
    assert_eq!(list["reports"][0]["id"], id.as_str());
    let (status, got) = server.get(&format!("/v1/reports/{id}")).await;
    assert_eq!(status, 200);
    assert_eq!(got["report"]["name"], "Leads");

    let response = export_body(
        &server,
        &format!("/v1/reports/{id}/export"),
        json!({"format": "csv"}),
    )
    .await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.text().await.unwrap(),
        "Name,Email\r\nPerson 2,p2@example.com\r\nPerson 0,p0@example.com\r\n"
    );
    let response = export_body(
        &server,
        &format!("/v1/reports/{id}/export?job=true"),
        json!({"format": "pdf", "config": {"title": "Q4 leads", "description": "For the review"}}),
    )
    .await;
    let (status, job) = json_of(response).await;
    assert_eq!(status, 202, "{job}");
    let job = wait_for_export(&server, job["exportJobId"].as_str().unwrap()).await;
    assert_eq!(job["status"], "completed", "{job}");
    assert_eq!(job["format"], "pdf");
    assert_eq!(job["processedRecords"], 2);

    let (status, body) = server
        .post(
            "/v1/reports",
            json!({"name": "Bad", "module": "contacts", "config": {"columns": ["nope"]}}),
        )
        .await;
    assert_error(status, &body, 400, "validation_error");

    let (status, body) = server
        .call(Method::DELETE, &format!("/v1/reports/{id}"), Value::Null)
        .await;
    assert_eq!((status.as_u16(), body), (200, json!({"success": true})));
    let (status, body) = server.get(&format!("/v1/reports/{id}")).await;
    assert_error(status, &body, 404, "not_found");
}
both!(http_saved_reports, saved_reports);
