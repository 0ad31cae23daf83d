//! A module definition applied again (`module apply`) over records that exist, on both stores:
//! the records' match keys follow the new definition, and a definition they cannot follow (a
//! field made unique that two records share) is refused and changes nothing.

use recordport::records::RecordInput;
use serde_json::{Value, json};

use crate::both;
use crate::common::{Run, TestDb, actor, recordport_process};

/// The `parts` module with its `code` field defined by `code`.
fn parts(code: Value) -> String {
    json!({
        "slug": "parts", "name": "Parts", "displayName": ["{name}"],
        "fields": [{"slug": "name", "label": "Name", "type": "text"}, code]
    })
    .to_string()
}

/// `recordport module apply` of `definition`: exit code and JSON answer.
fn apply(db: &TestDb, dir: &std::path::Path, definition: &str) -> (i32, Value) {
    let file = dir.join("parts.json");
    std::fs::write(&file, definition).unwrap();
    let mut cmd = recordport_process();
    cmd.args(["--db", &db.url, "--json", "module", "apply"])
        .arg(&file);
    let run = Run::of(cmd);
    (run.code, run.json())
}

async fn create(db: &TestDb, name: &str, code: &str) -> String {
    let body = json!({"fields": {"name": name, "code": code}});
    db.service
        .create(
            "parts",
            RecordInput::from_json(body, "test").unwrap(),
            &actor(),
        )
        .await
        .expect("create part")
        .id
}

both!(changed_definitions_rebuild_match_keys, changed_definitions);
async fn changed_definitions(db: TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let text = json!({"slug": "code", "label": "Code", "type": "text"});
    let (code, body) = apply(&db, dir.path(), &parts(text));
    assert_eq!(code, 0, "{body}");
    let bolt = create(&db, "Bolt", "B-1").await;
    let nut = create(&db, "Nut", "N-1").await;
    let other_bolt = create(&db, "Other bolt", "B-1").await;
    // Without keys, `code` cannot find records.
    let error = db.service.lookup("parts", "code", "N-1").await.unwrap_err();
    assert_eq!(error.code(), "validation_error", "{error}");

    // Kept as a match key: the records already there are found by it.
    let keyed = json!({"slug": "code", "label": "Code", "type": "text", "matchKey": true});
    let (code, body) = apply(&db, dir.path(), &parts(keyed.clone()));
    assert_eq!(code, 0, "{body}");
    let found = db.service.lookup("parts", "code", "N-1").await.unwrap();
    assert_eq!(found.id, nut);
    let error = db.service.lookup("parts", "code", "B-1").await.unwrap_err();
    assert!(error.to_string().contains("B-1"), "{error}");

    // Not while an import into the module runs: it writes keys by the definition it started
    // with.
    let file = dir.path().join("parts.csv");
    std::fs::write(&file, "Name,Code\nWasher,W-1\n").unwrap();
    let mut cmd = recordport_process();
    cmd.args(["--db", &db.url, "--json", "import", "run"])
        .arg(&file)
        .args(["-m", "parts"]);
    let job = Run::of(cmd).ok("import").json()["data"]["importJobId"]
        .as_str()
        .unwrap()
        .to_string();
    let set_status = |status: &str| {
        let mut sql = recordport::store::Sql::new("UPDATE import_jobs SET status = ");
        sql.bind(status).push(" WHERE id = ").bind(job.clone());
        sql
    };
    db.service
        .store()
        .execute(set_status("processing"))
        .await
        .unwrap();
    let unique = json!({"slug": "code", "label": "Code", "type": "text", "unique": true});
    let (code, body) = apply(&db, dir.path(), &parts(unique.clone()));
    assert_eq!(body["error"]["code"], "conflict", "{code} {body}");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("imports running") && message.contains(&job),
        "{message}"
    );
    db.service
        .store()
        .execute(set_status("completed"))
        .await
        .unwrap();

    // Unique while two records share a code: refused, naming both, and nothing changes.
    let (code, body) = apply(&db, dir.path(), &parts(unique.clone()));
    assert_ne!(code, 0, "{body}");
    assert_eq!(body["error"]["code"], "conflict", "{body}");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("code cannot be unique")
            && message.contains(&bolt)
            && message.contains(&other_bolt)
            && message.to_lowercase().contains("'b-1'"),
        "{message}"
    );
    let kept = db.service.modules().get("parts").await.unwrap();
    assert!(!kept.field("code").unwrap().unique);
    assert_eq!(
        db.service.lookup("parts", "code", "N-1").await.unwrap().id,
        nut,
        "the keys stay those of the kept definition"
    );

    // Once the codes differ it applies, and a new record cannot take a code already held.
    let body = json!({"fields": {"code": "B-2"}});
    db.service
        .update(
            "parts",
            &other_bolt,
            RecordInput::from_json(body, "test").unwrap(),
            &actor(),
        )
        .await
        .unwrap();
    let (code, body) = apply(&db, dir.path(), &parts(unique.clone()));
    assert_eq!(code, 0, "{body}");
    let body = json!({"fields": {"name": "Copy", "code": "N-1"}});
    let error = db
        .service
        .create(
            "parts",
            RecordInput::from_json(body, "test").unwrap(),
            &actor(),
        )
        .await
        .unwrap_err();
    assert_eq!(error.code(), "conflict", "{error}");
    assert!(error.to_string().contains(&nut), "{error}");
    assert_eq!(
        db.service.lookup("parts", "code", "B-2").await.unwrap().id,
        other_bolt
    );

    // A value held twice across pages of the rebuild (500 records a page) is found as well.
    let (code, body) = apply(&db, dir.path(), &parts(keyed));
    assert_eq!(code, 0, "{body}");
    let fillers = (0..600)
        .map(|i| {
            let body = json!({"fields": {"name": "Filler", "code": format!("F-{i}")}});
            RecordInput::from_json(body, "test").unwrap()
        })
        .collect();
    db.service
        .bulk_create("parts", fillers, &actor())
        .await
        .unwrap();
    let late = create(&db, "Late nut", "N-1").await;
    let (code, body) = apply(&db, dir.path(), &parts(unique.clone()));
    assert_eq!(body["error"]["code"], "conflict", "{code} {body}");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains(&nut) && message.contains(&late),
        "{message}"
    );

    // No longer keyed: no key is left behind to claim a value.
    let (code, body) = apply(
        &db,
        dir.path(),
        &parts(json!({"slug": "code", "label": "Code", "type": "text"})),
    );
    assert_eq!(code, 0, "{body}");
    create(&db, "Copy", "N-1").await;
    let keys = crate::common::scalar(&db, "SELECT COUNT(*) FROM record_keys").await;
    assert_eq!(keys, 0);
}
