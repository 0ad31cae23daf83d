//! A record's references and past through a real server and the real binary (spec 004):
//! `?expand=` on get and list, `…/history`, `…/changelog`, a get with `includeHistory` and
//! `includeChangelog`, the restore of a past version, and the metadata kept with a change (an
//! update's `reason`, an import's source and job).

use reqwest::Method;
use serde_json::{Value, json};

use crate::both;
use crate::common::{TestDb, cli_json};
use crate::http_support::{Server, assert_error};

const RECORDS: &str = "/v1/modules/contacts/records";

async fn expand_references(db: TestDb) {
    let server = Server::start(&db, &[]).await;
    let (status, account) = server
        .post(
            "/v1/modules/accounts/records",
            json!({"fields": {"name": "Acme", "domain": "acme.com"}}),
        )
        .await;
    assert_eq!(status, 201, "{account}");
    let account_id = account["record"]["id"].as_str().unwrap();
    let (_, contact) = server
        .post(
            RECORDS,
            json!({"fields": {"first_name": "Ada", "account": "Acme"}}),
        )
        .await;
    let id = contact["record"]["id"].as_str().unwrap();
    assert_eq!(contact["record"]["fields"]["account"], account_id);

    let (status, got) = server.get(&format!("{RECORDS}/{id}?expand=account")).await;
    assert_eq!(status, 200, "{got}");
    let embedded = &got["record"]["fields"]["account"];
    assert_eq!(embedded["id"], account_id);
    assert_eq!(embedded["displayName"], "Acme");
    assert_eq!(embedded["fields"]["domain"], "acme.com");

    let (status, list) = server.get(&format!("{RECORDS}?expand=account")).await;
    assert_eq!(status, 200, "{list}");
    assert_eq!(
        list["records"][0]["fields"]["account"]["displayName"],
        "Acme"
    );

    for path in [
        format!("{RECORDS}/{id}?expand=email"),
        format!("{RECORDS}?expand=nope"),
    ] {
        let (status, body) = server.get(&path).await;
        assert_error(status, &body, 400, "validation_error");
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("account"),
            "names what can be expanded: {body}"
        );
    }
    let (status, body) = server.get(&format!("{RECORDS}/{id}?colour=red")).await;
    assert_error(status, &body, 400, "validation_error");
}
both!(http_expand_references, expand_references);

async fn history_changelog_restore(db: TestDb) {
    let server = Server::start(&db, &[]).await;
    let (_, created) = server
        .post(
            RECORDS,
            json!({"fields": {"first_name": "Ada", "status": "lead"}}),
        )
        .await;
    let id = created["record"]["id"].as_str().unwrap().to_string();
    let record = format!("{RECORDS}/{id}");
    for (version, status) in [(1, "customer"), (2, "churned")] {
        let (code, body) = server
            .call(
                Method::PATCH,
                &record,
                json!({"version": version, "fields": {"status": status}}),
            )
            .await;
        assert_eq!(code, 200, "{body}");
    }

    let (status, history) = server.get(&format!("{record}/history")).await;
    assert_eq!(status, 200, "{history}");
    let versions = history["versions"].as_array().unwrap();
    assert_eq!(versions.len(), 3);
    assert_eq!(versions[0]["version"], 3);
    assert_eq!(versions[0]["data"]["status"], "churned");
    assert_eq!(
        versions[0]["changes"]["status"],
        json!({"old": "customer", "new": "churned"})
    );
    assert!(versions[0]["updatedAt"].is_string());
    assert_eq!(versions[2]["version"], 1);
    assert_eq!(versions[2]["data"]["status"], "lead");
    assert!(versions[2]["createdAt"].is_string());

    let (status, log) = server.get(&format!("{record}/changelog?limit=1")).await;
    assert_eq!(status, 200, "{log}");
    let entries = log["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0]["recordId"], id.as_str());
    assert_eq!(entries[0]["action"], "update");
    assert_eq!(entries[0]["userName"], "test");
    assert_eq!(
        entries[0]["changes"]["status"],
        json!({"field": "status", "oldValue": "customer", "newValue": "churned"})
    );
    let (_, none) = server
        .get(&format!("{record}/changelog?endDate=2000-01-01"))
        .await;
    assert_eq!(none["entries"], json!([]));
    let (_, all) = server
        .get(&format!("{record}/changelog?startDate=2000-01-01"))
        .await;
    assert_eq!(all["entries"].as_array().unwrap().len(), 3);
    let (status, body) = server
        .get(&format!("{record}/changelog?startDate=yesterday"))
        .await;
    assert_error(status, &body, 400, "validation_error");

    let (status, got) = server
        .get(&format!(
            "{record}?includeHistory=true&includeChangelog=true"
        ))
        .await;
    assert_eq!(status, 200, "{got}");
    assert_eq!(got["history"].as_array().unwrap().len(), 3);
    assert_eq!(got["changelog"].as_array().unwrap().len(), 3);
    assert_eq!(got["record"]["version"], 3);

    // Back to version 1's values, as a new version; a stale expectedVersion is refused.
    let restore = format!("{record}/restore");
    let (status, body) = server
        .post(&restore, json!({"version": 1, "expectedVersion": 2}))
        .await;
    assert_error(status, &body, 409, "conflict");
    let (status, restored) = server.post(&restore, json!({"version": 1})).await;
    assert_eq!(status, 200, "{restored}");
    assert_eq!(restored["record"]["version"], 4);
    assert_eq!(restored["record"]["fields"]["status"], "lead");
    let (status, body) = server.post(&restore, json!({"version": 9})).await;
    assert_error(status, &body, 404, "not_found");

    // Without a body, restore is still spec 000's restore from the trash.
    server.call(Method::DELETE, &record, Value::Null).await;
    let (status, back) = server.call(Method::POST, &restore, Value::Null).await;
    assert_eq!(status, 200, "{back}");
    assert!(back["record"]["deletedDateTime"].is_null());

    // The command line gives the same.
    let log = cli_json(
        &db,
        &[
            "records",
            "changelog",
            "-m",
            "contacts",
            &id,
            "--limit",
            "2",
        ],
    );
    assert_eq!(log["entries"][0]["action"], "restore");
    assert_eq!(log["entries"].as_array().unwrap().len(), 2);
    let restored = cli_json(
        &db,
        &[
            "records",
            "restore",
            "-m",
            "contacts",
            &id,
            "--version",
            "3",
        ],
    );
    assert_eq!(restored["record"]["fields"]["status"], "churned");
    let got = cli_json(
        &db,
        &[
            "records",
            "get",
            "-m",
            "contacts",
            &id,
            "--include-history",
            "--expand",
            "account",
        ],
    );
    assert_eq!(got["history"][0]["version"], got["record"]["version"]);
}
both!(http_history_changelog_restore, history_changelog_restore);

/// Spec 004's change metadata: a `reason` sent with PATCH, PUT, bulk PATCH or an upsert is kept
/// with the version it makes; an import's changes say `source: "import"` and the job id. The
/// changelog and the history show it; keys the server sets cannot be forged.
async fn change_metadata(db: TestDb) {
    let server = Server::start(&db, &[]).await;
    let (status, created) = server
        .post(
            RECORDS,
            json!({"fields": {"email": "ada@example.com", "status": "lead"}}),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    let id = created["record"]["id"].as_str().unwrap().to_string();
    let record = format!("{RECORDS}/{id}");

    let (status, body) = server
        .call(
            Method::PATCH,
            &record,
            json!({"fields": {"status": "active"}, "metadata": {"reason": "Called back",
                "source": "import", "jobId": "job_forged"}}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = server
        .call(
            Method::PUT,
            &record,
            json!({"fields": {"email": "ada@example.com", "status": "customer"},
                "metadata": {"reason": "Signed", "approvedBy": "Grace"}}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = server
        .call(
            Method::PATCH,
            &format!("{RECORDS}/bulk"),
            json!({"updates": [{"id": id, "fields": {"status": "churned"},
                "metadata": {"reason": "Lost"}}]}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = server
        .post(
            &format!("{RECORDS}/upsert"),
            json!({"matchField": "email", "fields": {"email": "ADA@example.com", "status": "lead"},
                "metadata": {"reason": "Came back"}}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    // An import that updates the record.
    let (status, imported) = server
        .post(
            "/v1/modules/contacts/import/execute",
            json!({"rows": [{"Email": "ada@example.com", "Status": "active"}],
                "columnMapping": [{"sourceColumn": "Email", "targetFieldSlug": "email"},
                    {"sourceColumn": "Status", "targetFieldSlug": "status"}],
                "duplicateStrategy": "update"}),
        )
        .await;
    assert_eq!(status, 200, "{imported}");
    assert_eq!(imported["data"]["successRows"], 1, "{imported}");
    let job_id = imported["data"]["importJobId"].as_str().unwrap();

    let (status, changelog) = server.get(&format!("{record}/changelog")).await;
    assert_eq!(status, 200, "{changelog}");
    let metadata: Vec<&Value> = changelog["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| &e["metadata"])
        .collect();
    assert_eq!(
        metadata,
        [
            &json!({"source": "import", "jobId": job_id}),
            &json!({"reason": "Came back"}),
            &json!({"reason": "Lost"}),
            &json!({"reason": "Signed", "approvedBy": "Grace"}),
            &json!({"reason": "Called back"}),
            &json!({}),
        ],
        "{changelog}"
    );
    let (_, history) = server.get(&format!("{record}/history")).await;
    assert_eq!(
        history["versions"][0]["metadata"]["jobId"], job_id,
        "{history}"
    );
    assert_eq!(history["versions"][4]["metadata"]["reason"], "Called back");

    // Metadata is bounded: it is stored with every version.
    let big = "x".repeat(5000);
    let (status, body) = server
        .call(
            Method::PATCH,
            &record,
            json!({"fields": {"status": "lead"}, "metadata": {"reason": big}}),
        )
        .await;
    assert_error(status, &body, 400, "validation_error");
    // The CLI's update takes the same body.
    let out = cli_json(
        &db,
        &[
            "records",
            "update",
            "--module",
            "contacts",
            &id,
            "--data",
            r#"{"fields": {"status": "customer"}, "metadata": {"reason": "From the shell"}}"#,
        ],
    );
    assert_eq!(out["record"]["version"], 7, "{out}");
    let out = cli_json(
        &db,
        &[
            "records",
            "changelog",
            "--module",
            "contacts",
            &id,
            "--limit",
            "1",
        ],
    );
    assert_eq!(
        out["entries"][0]["metadata"]["reason"], "From the shell",
        "{out}"
    );
}
both!(http_change_metadata, change_metadata);
