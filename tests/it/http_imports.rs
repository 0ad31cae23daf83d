//! Spec 002's import steps through a real server: a multipart upload of the sample contacts,
//! suggest-mapping, validate, execute, the job list and status, rollback; inline rows; a
//! background import run by the server's worker and polled to completion; the upload limit
//! (413); spec 002's row numbers (inline rows by their place, files by their rows) and the
//! suggested mapping when a body has none.

use std::time::Duration;

use reqwest::Method;
use reqwest::multipart::{Form, Part};
use serde_json::{Value, json};

use crate::both;
use crate::common::{TestDb, sample_dir};
use crate::http_support::{Server, assert_error, json_of};

const IMPORT: &str = "/v1/modules/contacts/import";

async fn upload(server: &Server, name: &str, bytes: Vec<u8>) -> (reqwest::StatusCode, Value) {
    upload_with(server, "", name, bytes).await
}

/// Uploads with a query string (`?sheet=…&delimiter=…`).
async fn upload_with(
    server: &Server,
    query: &str,
    name: &str,
    bytes: Vec<u8>,
) -> (reqwest::StatusCode, Value) {
    let form = Form::new().part("file", Part::bytes(bytes).file_name(name.to_string()));
    let response = server
        .request(Method::POST, &format!("{IMPORT}/parse{query}"))
        .multipart(form)
        .send()
        .await
        .expect("upload");
    json_of(response).await
}

async fn four_steps_then_rollback(db: TestDb) {
    let server = Server::start(&db, &[]).await;
    let file = std::fs::read(sample_dir().join("import/contacts.csv")).unwrap();
    let data_rows = file.iter().filter(|b| **b == b'\n').count() as u64 - 1;

    // 1. parse
    let (status, parsed) = upload(&server, "contacts.csv", file).await;
    assert_eq!(status, 200, "{parsed}");
    assert_eq!(parsed["success"], true);
    let data = &parsed["data"];
    let file_id = data["fileId"].as_str().unwrap().to_string();
    assert_eq!(data["fileName"], "contacts.csv");
    assert_eq!(data["fileType"], "csv");
    assert_eq!(data["encoding"], "utf-8");
    let total = data["totalRows"].as_u64().unwrap();
    assert!(total > 0 && total <= data_rows);
    assert!(
        data["sourceColumns"]
            .as_array()
            .unwrap()
            .contains(&json!("Email"))
    );
    assert_eq!(data["sampleRows"][0]["First Name"], "Ada");

    // 2. suggest-mapping, in the spec's form (columns and sample rows)
    let (status, suggested) = server
        .post(
            &format!("{IMPORT}/suggest-mapping"),
            json!({"sourceColumns": data["sourceColumns"], "sampleData": data["sampleRows"]}),
        )
        .await;
    assert_eq!(status, 200, "{suggested}");
    let suggestions = suggested["data"]["suggestions"].as_array().unwrap().clone();
    assert!(
        suggestions
            .iter()
            .any(|s| s["sourceColumn"] == "Email" && s["targetFieldSlug"] == "email")
    );
    assert!(suggested["data"]["targetFields"].as_array().unwrap().len() > 5);
    // … and from the uploaded file: the same suggestions.
    let (_, by_file) = server
        .post(
            &format!("{IMPORT}/suggest-mapping"),
            json!({"fileId": file_id}),
        )
        .await;
    assert_eq!(by_file["data"]["suggestions"], json!(suggestions));

    // 3. validate
    let (status, report) = server
        .post(
            &format!("{IMPORT}/validate"),
            json!({"fileId": file_id, "columnMapping": suggestions}),
        )
        .await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["data"]["totalRows"], total);
    assert_eq!(report["data"]["isValid"], true, "{report}");

    // 4. execute
    let (status, result) = server
        .post(
            &format!("{IMPORT}/execute"),
            json!({"fileId": file_id, "columnMapping": suggestions,
                "duplicateStrategy": "update", "duplicateMatchFields": ["email"]}),
        )
        .await;
    assert_eq!(status, 200, "{result}");
    let result = &result["data"];
    assert_eq!(result["status"], "completed");
    assert_eq!(result["processingMode"], "sync");
    assert_eq!(result["successRows"], total);
    assert_eq!(
        result["createdRecordIds"].as_array().unwrap().len() as u64,
        total
    );
    let job_id = result["importJobId"].as_str().unwrap().to_string();

    let (_, page) = server.get("/v1/modules/contacts/records").await;
    assert_eq!(page["total"], total);

    let (status, jobs) = server.get(&format!("{IMPORT}/jobs?limit=5")).await;
    assert_eq!(status, 200);
    assert_eq!(jobs["data"][0]["importJobId"], job_id.as_str());
    let (status, job) = server.get(&format!("{IMPORT}/jobs/{job_id}")).await;
    assert_eq!(status, 200);
    assert_eq!(job["data"]["status"], "completed");
    assert_eq!(job["data"]["fileName"], "contacts.csv");
    assert_eq!(job["data"]["totalRows"], total);

    // Rollback deletes what the import created.
    let (status, undone) = server
        .call(
            Method::DELETE,
            &format!("{IMPORT}/jobs/{job_id}"),
            Value::Null,
        )
        .await;
    assert_eq!(status, 200, "{undone}");
    assert_eq!(undone["data"]["deletedCount"], total);
    assert_eq!(undone["data"]["restoredCount"], 0);
    let (_, page) = server.get("/v1/modules/contacts/records").await;
    assert_eq!(page["total"], 0);
    let (_, job) = server.get(&format!("{IMPORT}/jobs/{job_id}")).await;
    assert_eq!(job["data"]["status"], "cancelled");
    let (status, body) = server.get(&format!("{IMPORT}/jobs/job_missing")).await;
    assert_error(status, &body, 404, "not_found");
}
both!(
    http_import_four_steps_and_rollback,
    four_steps_then_rollback
);

async fn inline_rows_and_bad_uploads(db: TestDb) {
    let server = Server::start(&db, &[]).await;
    let mapping = json!([
        {"sourceColumn": "Name", "targetFieldSlug": "displayName"},
        {"sourceColumn": "Email", "targetFieldSlug": "email"}
    ]);
    let rows = json!([
        {"Name": "John Smith", "Email": "john@example.com"},
        {"Name": "Jane Doe", "Email": "invalid-email"}
    ]);
    let (status, report) = server
        .post(
            &format!("{IMPORT}/validate"),
            json!({"rows": rows, "columnMapping": mapping}),
        )
        .await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["data"]["isValid"], false);
    assert_eq!(report["data"]["errorRows"], 1);
    // Spec 002: the n-th element of `rows` is row n.
    assert_eq!(report["data"]["errors"][0]["row"], 2);
    assert_eq!(report["data"]["errors"][0]["field"], "email");

    let (status, result) = server
        .post(
            &format!("{IMPORT}/execute"),
            json!({"rows": rows, "columnMapping": mapping, "staticValues": {"source": "api"}}),
        )
        .await;
    assert_eq!(status, 200, "{result}");
    assert_eq!(result["data"]["successRows"], 1);
    assert_eq!(result["data"]["errorRows"], 1);
    let id = result["data"]["createdRecordIds"][0].as_str().unwrap();
    let (_, record) = server
        .get(&format!("/v1/modules/contacts/records/{id}"))
        .await;
    assert_eq!(record["record"]["displayName"], "John Smith");
    assert_eq!(record["record"]["fields"]["source"], "api");
    // Inline rows leave no file behind.
    let left: Vec<_> = std::fs::read_dir(server.dir.path().join("uploads"))
        .unwrap()
        .collect();
    assert!(left.is_empty(), "{left:?}");

    let (status, body) = server
        .post(
            &format!("{IMPORT}/execute"),
            json!({"columnMapping": mapping}),
        )
        .await;
    assert_error(status, &body, 400, "validation_error");
    let (status, body) = server
        .post(
            &format!("{IMPORT}/validate"),
            json!({"fileId": "upl_../../etc", "columnMapping": mapping}),
        )
        .await;
    assert_error(status, &body, 400, "validation_error");
    // Workbooks upload like CSV files; cells keep their types.
    let xlsx = std::fs::read(sample_dir().join("import/contacts.xlsx")).unwrap();
    let (status, parsed) = upload(&server, "contacts.xlsx", xlsx).await;
    assert_eq!(status, 200, "{parsed}");
    assert_eq!(parsed["data"]["fileType"], "xlsx");
    assert_eq!(parsed["data"]["fileName"], "contacts.xlsx");
    assert_eq!(
        parsed["data"]["sampleRows"][0]["Email"],
        "ada.lovelace@acme.com"
    );

    // How to read a file is given at upload and kept for the later steps: a forced delimiter
    // that the file does not use leaves one column, in the parse step and the next.
    let csv = std::fs::read(sample_dir().join("import/contacts.csv")).unwrap();
    let (status, parsed) = upload_with(&server, "?delimiter=;", "contacts.csv", csv.clone()).await;
    assert_eq!(status, 200, "{parsed}");
    assert_eq!(parsed["data"]["sourceColumns"].as_array().unwrap().len(), 1);
    let (status, suggested) = server
        .post(
            &format!("{IMPORT}/suggest-mapping"),
            json!({"fileId": parsed["data"]["fileId"]}),
        )
        .await;
    assert_eq!(status, 200, "{suggested}");
    assert_eq!(
        suggested["data"]["suggestions"].as_array().unwrap().len(),
        1
    );
    let (status, body) = upload_with(&server, "?delimiter=ab", "contacts.csv", csv).await;
    assert_error(status, &body, 400, "validation_error");

    let (status, body) = upload(&server, "notes.pdf", b"%PDF-1.4".to_vec()).await;
    assert_error(status, &body, 400, "invalid_file");
    let response = server
        .request(Method::POST, &format!("{IMPORT}/parse"))
        .multipart(Form::new().text("other", "x"))
        .send()
        .await
        .unwrap();
    let (status, body) = json_of(response).await;
    assert_error(status, &body, 400, "validation_error");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("No file uploaded")
    );
}
both!(
    http_import_inline_rows_and_bad_uploads,
    inline_rows_and_bad_uploads
);

async fn upload_limit(db: TestDb) {
    let server = Server::start(&db, &["--max-upload-mb", "1"]).await;
    let mut big = String::from("Name,Email\n");
    while big.len() < 1_500_000 {
        big.push_str("Somebody With A Long Name,somebody.with.a.long.name@example.com\n");
    }
    let (status, body) = upload(&server, "big.csv", big.into_bytes()).await;
    assert_error(status, &body, 413, "file_too_large");
    assert!(
        body["error"]["message"].as_str().unwrap().contains("1 MB"),
        "{body}"
    );
    // Nothing of it is kept.
    let kept = std::fs::read_dir(server.dir.path().join("uploads"))
        .map(|d| d.count())
        .unwrap_or(0);
    assert_eq!(kept, 0);

    let rows: Vec<Value> = (0..40_000)
        .map(|i| json!({"Name": format!("Person {i}"), "Email": format!("p{i}@example.com")}))
        .collect();
    let (status, body) = server
        .post(
            &format!("{IMPORT}/validate"),
            json!({"rows": rows, "columnMapping": []}),
        )
        .await;
    assert_error(status, &body, 413, "file_too_large");

    // Under the limit, uploads work.
    let (status, body) = upload(&server, "small.csv", b"Name,Email\nA,a@b.co\n".to_vec()).await;
    assert_eq!(status, 200, "{body}");
}
both!(http_upload_limit, upload_limit);

async fn background_import(db: TestDb) {
    let server = Server::start(&db, &[]).await;
    let rows = 6_000;
    let mut csv = String::from("First Name,Last Name,Email,Status\n");
    for i in 0..rows {
        csv.push_str(&format!("First{i},Last{i},person{i}@example.com,lead\n"));
    }
    // Row 7 repeats row 2's email: the in-file duplicate is skipped.
    csv.push_str("Again,Zero,PERSON0@example.com,active\n");
    let (status, parsed) = upload(&server, "many.csv", csv.into_bytes()).await;
    assert_eq!(status, 200, "{parsed}");
    assert_eq!(parsed["data"]["totalRows"], rows + 1);
    let file_id = parsed["data"]["fileId"].as_str().unwrap();
    let (_, suggested) = server
        .post(
            &format!("{IMPORT}/suggest-mapping"),
            json!({"fileId": file_id}),
        )
        .await;

    let (status, submitted) = server
        .post(
            &format!("{IMPORT}/execute"),
            json!({"fileId": file_id, "columnMapping": suggested["data"]["suggestions"]}),
        )
        .await;
    assert_eq!(status, 202, "{submitted}");
    let job_id = submitted["data"]["importJobId"]
        .as_str()
        .unwrap()
        .to_string();
    // Pending when submitted; the embedded worker may have claimed it by the time it is read.
    assert!(
        matches!(
            submitted["data"]["status"].as_str(),
            Some("pending" | "processing")
        ),
        "{submitted}"
    );
    assert_eq!(submitted["data"]["fileName"], "many.csv");
    // Counted when submitted: the 202 already gives the size and the spec's mode.
    assert_eq!(submitted["data"]["processingMode"], "stream");
    assert_eq!(submitted["data"]["totalRows"], rows + 1);

    let mut job = Value::Null;
    for _ in 0..600 {
        let (status, body) = server.get(&format!("{IMPORT}/jobs/{job_id}")).await;
        assert_eq!(status, 200, "{body}");
        job = body["data"].clone();
        if !matches!(job["status"].as_str(), Some("pending" | "processing")) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(job["status"], "completed", "{job}");
    assert_eq!(job["processingMode"], "stream");
    assert_eq!(job["totalRows"], rows + 1);
    assert_eq!(job["processedRows"], rows + 1);
    assert_eq!(job["createdRows"], rows);
    assert_eq!(job["skippedRows"], 1);
    let (_, page) = server.get("/v1/modules/contacts/records?pageSize=1").await;
    assert_eq!(page["total"], rows);

    let (status, undone) = server
        .call(
            Method::DELETE,
            &format!("{IMPORT}/jobs/{job_id}"),
            Value::Null,
        )
        .await;
    assert_eq!(status, 200, "{undone}");
    assert_eq!(undone["data"]["deletedCount"], rows);
    let (_, page) = server.get("/v1/modules/contacts/records?pageSize=1").await;
    assert_eq!(page["total"], 0);
    let (status, body) = server
        .post(&format!("{IMPORT}/jobs/{job_id}/cancel"), Value::Null)
        .await;
    assert_error(status, &body, 409, "conflict");

    // A cancelled background import leaves nothing behind, whether the worker had started it.
    let (status, submitted) = server
        .post(
            &format!("{IMPORT}/execute"),
            json!({"fileId": file_id, "columnMapping": suggested["data"]["suggestions"]}),
        )
        .await;
    assert_eq!(status, 202, "{submitted}");
    let job_id = submitted["data"]["importJobId"]
        .as_str()
        .unwrap()
        .to_string();
    let (status, body) = server
        .post(&format!("{IMPORT}/jobs/{job_id}/cancel"), Value::Null)
        .await;
    assert_eq!(status, 200, "{body}");
    let mut job = Value::Null;
    for _ in 0..600 {
        let (_, body) = server.get(&format!("{IMPORT}/jobs/{job_id}")).await;
        job = body["data"].clone();
        if job["status"] != "processing" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(job["status"], "cancelled", "{job}");
    let (_, page) = server.get("/v1/modules/contacts/records?pageSize=1").await;
    assert_eq!(page["total"], 0);
}
both!(http_background_import_run_by_the_worker, background_import);

/// Spec 002's details: inline rows are numbered by their place, a file's rows by the file;
/// validate and execute without a columnMapping use the suggested mapping, as the CLI does.
async fn spec_002_row_numbers_and_suggested_mapping(db: TestDb) {
    let server = Server::start(&db, &[]).await;
    let rows = json!([
        {"Full Name": "Ada Lovelace", "E-mail": "ada@example.com"},
        {"Full Name": "Bad Email", "E-mail": "not-an-email"},
        {"Full Name": "Line\nBreak", "E-mail": "grace@example.com"},
        {"Full Name": "Alan Turing", "E-mail": "alan@example.com"},
        {"Full Name": "Also Bad", "E-mail": "also-bad"}
    ]);
    // No columnMapping: "E-mail" is suggested for email, so its values are checked.
    let (status, report) = server
        .post(&format!("{IMPORT}/validate"), json!({"rows": rows}))
        .await;
    assert_eq!(status, 200, "{report}");
    let errors: Vec<(u64, &str)> = report["data"]["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["row"].as_u64().unwrap(), e["field"].as_str().unwrap()))
        .collect();
    assert_eq!(errors, [(2, "email"), (5, "email")], "{report}");

    // The same rows as a file: the header is row 1.
    let csv = "Full Name,E-mail\nAda Lovelace,ada@example.com\nBad Email,not-an-email\n";
    let (status, parsed) = upload(&server, "people.csv", csv.as_bytes().to_vec()).await;
    assert_eq!(status, 200, "{parsed}");
    let file_id = parsed["data"]["fileId"].as_str().unwrap().to_string();
    let (status, report) = server
        .post(&format!("{IMPORT}/validate"), json!({"fileId": file_id}))
        .await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["data"]["errors"][0]["row"], 3, "{report}");
    assert_eq!(report["data"]["validRows"], 1);

    // Execute by file id without a mapping imports what the suggestions map.
    let (status, result) = server
        .post(&format!("{IMPORT}/execute"), json!({"fileId": file_id}))
        .await;
    assert_eq!(status, 200, "{result}");
    assert_eq!(result["data"]["successRows"], 1, "{result}");
    assert_eq!(result["data"]["errors"][0]["row"], 3, "{result}");
    let id = result["data"]["createdRecordIds"][0].as_str().unwrap();
    let (_, record) = server
        .get(&format!("/v1/modules/contacts/records/{id}"))
        .await;
    assert_eq!(record["record"]["fields"]["email"], "ada@example.com");
    assert_eq!(record["record"]["displayName"], "Ada Lovelace");

    // Inline rows executed without a mapping: errors by element.
    let (status, result) = server
        .post(
            &format!("{IMPORT}/execute"),
            json!({"rows": rows, "duplicateStrategy": "skip"}),
        )
        .await;
    assert_eq!(status, 200, "{result}");
    assert_eq!(result["data"]["skippedRows"], 1, "{result}");
    let rows_failed: Vec<u64> = result["data"]["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["row"].as_u64().unwrap())
        .collect();
    assert_eq!(rows_failed, [2, 5], "{result}");
    // An explicit mapping is still taken as given: an empty one maps nothing.
    let (status, body) = server
        .post(
            &format!("{IMPORT}/execute"),
            json!({"rows": rows, "columnMapping": []}),
        )
        .await;
    assert_error(status, &body, 400, "validation_error");

    // Inline rows a worker imports later (over 5,000: queued) keep their numbering.
    let many: Vec<Value> = (1..=5_001)
        .map(|n| {
            let email = if n == 5_001 {
                "broken".to_string()
            } else {
                format!("q{n}@example.com")
            };
            json!({"E-mail": email})
        })
        .collect();
    let (status, submitted) = server
        .post(
            &format!("{IMPORT}/execute"),
            json!({"rows": many,
                "columnMapping": [{"sourceColumn": "E-mail", "targetFieldSlug": "email"}]}),
        )
        .await;
    assert_eq!(status, 202, "{submitted}");
    let job_id = submitted["data"]["importJobId"]
        .as_str()
        .unwrap()
        .to_string();
    let mut job = Value::Null;
    for _ in 0..600 {
        let (_, body) = server.get(&format!("{IMPORT}/jobs/{job_id}")).await;
        job = body["data"].clone();
        if !matches!(job["status"].as_str(), Some("pending" | "processing")) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(job["status"], "completed", "{job}");
    assert_eq!(job["errorRows"], 1, "{job}");
    assert_eq!(job["errors"][0]["row"], 5_001, "{job}");
}
both!(
    http_import_spec_002_row_numbers_and_suggested_mapping,
    spec_002_row_numbers_and_suggested_mapping
);
