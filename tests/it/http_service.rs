//! The server as a service: the OpenAPI document (no key needed) validates; request rates per
//! key (429 with Retry-After); graceful shutdown on SIGTERM.

use std::process::Command;

use reqwest::Method;
use serde_json::Value;

use crate::both;
use crate::common::TestDb;
use crate::http_support::{Server, assert_error, json_of, key_with, retry_after_secs};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openapi_document_validates_and_lists_every_route() {
    let db = TestDb::sqlite().await;
    let server = Server::start(&db, &[]).await;
    let response = server
        .client
        .get(server.url("/v1/openapi.json"))
        .send()
        .await
        .unwrap();
    let (status, document) = json_of(response).await;
    assert_eq!(status, 200);
    let paths = document["paths"].as_object().unwrap();
    for path in [
        "/v1/modules/{module}/records",
        "/v1/modules/{module}/records/{id}",
        "/v1/modules/{module}/records/bulk-delete",
        "/v1/modules/{module}/records/trash",
        "/v1/modules/{module}/records/bulk",
        "/v1/modules/{module}/records/lookup",
        "/v1/modules/{module}/records/upsert",
        "/v1/modules/{module}/upsert/{externalId}",
        "/v1/member-record-counts",
        "/v1/modules/{module}/import/parse",
        "/v1/modules/{module}/import/execute",
        "/v1/modules/{module}/import/jobs/{jobId}",
        "/v1/modules/{module}/export",
        "/v1/export-jobs/{exportJobId}/download",
        "/v1/reports/{reportId}/export",
        "/v1/query",
    ] {
        assert!(paths.contains_key(path), "{path} missing");
    }
    let operations: usize = paths.values().map(|p| p.as_object().unwrap().len()).sum();
    assert!(operations >= 30, "{operations} operations");
    assert_eq!(
        paths["/v1/modules/{module}/records/{id}"]["patch"]["security"][0]["bearer"][0],
        "records:write"
    );
    for method in ["post", "patch", "delete"] {
        assert!(
            paths["/v1/modules/{module}/records/bulk"]
                .get(method)
                .is_some(),
            "{method} …/records/bulk"
        );
    }
    assert!(
        paths["/v1/modules/{module}/records/{id}"]
            .get("put")
            .is_some()
    );

    let file = server.dir.path().join("openapi.json");
    std::fs::write(&file, serde_json::to_vec(&document).unwrap()).unwrap();
    let output = Command::new("python3")
        .args(["-m", "openapi_spec_validator"])
        .arg(&file)
        .output()
        .expect("run python3 -m openapi_spec_validator (pip install openapi-spec-validator)");
    assert!(
        output.status.success(),
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

async fn rate_limit(db: TestDb) {
    let server = Server::start(&db, &["--rate-limit-per-minute", "3"]).await;
    for _ in 0..3 {
        let (status, body) = server.get("/v1/modules/contacts/records").await;
        assert_eq!(status, 200, "{body}");
    }
    let response = server
        .request(Method::GET, "/v1/modules/contacts/records")
        .send()
        .await
        .unwrap();
    retry_after_secs(&response);
    let (status, body) = json_of(response).await;
    assert_error(status, &body, 429, "rate_limited");
    // Each key has its own budget.
    let other = key_with(&db, &[recordport::apikeys::Scope::RecordsRead]).await;
    let (status, _) = server
        .call_with(
            Some(&other),
            Method::GET,
            "/v1/modules/contacts/records",
            Value::Null,
        )
        .await;
    assert_eq!(status, 200);
}
both!(http_rate_limit, rate_limit);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_stops_the_server_cleanly() {
    let db = TestDb::sqlite().await;
    let mut server = Server::start(&db, &[]).await;
    let (status, _) = server.get("/v1/modules/contacts/records").await;
    assert_eq!(status, 200);
    let killed = Command::new("kill")
        .args(["-TERM", &server.pid().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let exit = server.wait();
    assert!(exit.success(), "{exit:?}");
}
