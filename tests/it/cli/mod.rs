//! The `recordport` binary end to end: every command run as a process against `--db <url>`, on
//! both stores, asserting on the spec's JSON (`--json`), exit codes and the human output.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use crate::both;
use crate::common::{TestDb, sample_dir};

/// What one run of the binary gave.
struct Run {
    code: i32,
    json: Value,
    stdout: String,
    stderr: String,
}

use crate::common::recordport_command as command;

fn execute(mut cmd: assert_cmd::Command) -> Run {
    // The tests run on a multi-thread runtime; the child process blocks this worker only.
    let out = tokio::task::block_in_place(|| cmd.output()).expect("run recordport");
    let stdout = String::from_utf8(out.stdout).expect("utf-8 stdout");
    let stderr = String::from_utf8(out.stderr).expect("utf-8 stderr");
    Run {
        code: out.status.code().expect("exit code"),
        json: serde_json::from_str(&stdout).unwrap_or(Value::Null),
        stdout,
        stderr,
    }
}

/// `recordport --db <db> --json ARGS…`: exit code, parsed stdout, stderr.
fn rp(db: &TestDb, args: &[&str]) -> (i32, Value, String) {
    let mut cmd = command();
    cmd.args(["--db", &db.url, "--json"]).args(args);
    let run = execute(cmd);
    (run.code, run.json, run.stderr)
}

/// `recordport --db <db> ARGS…` (human output): exit code, stdout, stderr.
fn rp_text(db: &TestDb, args: &[&str]) -> (i32, String, String) {
    let mut cmd = command();
    cmd.args(["--db", &db.url]).args(args);
    let run = execute(cmd);
    (run.code, run.stdout, run.stderr)
}

/// Runs a command that must succeed and returns its JSON.
fn ok(db: &TestDb, args: &[&str]) -> Value {
    let (code, json, stderr) = rp(db, args);
    assert_eq!(code, 0, "recordport {args:?} failed: {json} {stderr}");
    json
}

/// `records SUBCOMMAND ARGS… --module contacts` (with `--json`).
fn contacts(db: &TestDb, args: &[&str]) -> (i32, Value, String) {
    rp(db, &contacts_args(args))
}

/// `records SUBCOMMAND ARGS… --module contacts`, which must succeed.
fn contacts_ok(db: &TestDb, args: &[&str]) -> Value {
    ok(db, &contacts_args(args))
}

/// `records SUBCOMMAND ARGS… --module contacts` with human output.
fn contacts_text(db: &TestDb, args: &[&str]) -> (i32, String, String) {
    rp_text(db, &contacts_args(args))
}

/// `records SUBCOMMAND ARGS… --module contacts`, which must fail: exit code and error code.
fn contacts_err(db: &TestDb, args: &[&str]) -> (i32, String) {
    let (code, json, _) = contacts(db, args);
    let error = json["error"]["code"].as_str().unwrap_or_default();
    (code, error.to_string())
}

fn contacts_args<'a>(args: &[&'a str]) -> Vec<&'a str> {
    [&["records"], args, &["--module", "contacts"]].concat()
}

/// An expected `contacts_err`.
fn err(code: i32, error: &str) -> (i32, String) {
    (code, error.to_string())
}

/// Creates a contact and returns the record JSON.
fn create_contact(db: &TestDb, fields: Value) -> Value {
    let body = json!({ "fields": fields }).to_string();
    contacts_ok(db, &["create", "--data", &body])["record"].clone()
}

fn id_of(record: &Value) -> String {
    record["id"].as_str().expect("record id").to_string()
}

/// The display names of a list result, in order.
fn names(list: &Value) -> Vec<&str> {
    list["records"]
        .as_array()
        .expect("records array")
        .iter()
        .map(|r| r["displayName"].as_str().expect("displayName"))
        .collect()
}

fn sorted(mut v: Vec<&str>) -> Vec<&str> {
    v.sort_unstable();
    v
}

fn list(db: &TestDb, extra: &[&str]) -> Value {
    contacts_ok(db, &[&["list"], extra].concat())
}

fn module_file(name: &str) -> String {
    sample_dir()
        .join("modules")
        .join(format!("{name}.json"))
        .display()
        .to_string()
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write temp file");
    path
}

fn outcomes(applied: &Value) -> Vec<(&str, &str)> {
    applied["modules"]
        .as_array()
        .expect("modules array")
        .iter()
        .map(|m| {
            (
                m["slug"].as_str().expect("slug"),
                m["outcome"].as_str().expect("outcome"),
            )
        })
        .collect()
}

// 1. Modules.

async fn module_apply_list_show(db: TestDb) {
    let (accounts, contacts, deals) = (
        module_file("accounts"),
        module_file("contacts"),
        module_file("deals"),
    );
    // TestDb applied the samples already: applying them again (deals first, so the references
    // decide the order) changes nothing.
    let applied = ok(&db, &["module", "apply", &deals, &contacts, &accounts]);
    assert_eq!(
        outcomes(&applied),
        [
            ("accounts", "unchanged"),
            ("deals", "unchanged"),
            ("contacts", "unchanged")
        ]
    );
    let again = ok(&db, &["module", "apply", &accounts, &contacts, &deals]);
    assert_eq!(
        outcomes(&again),
        [
            ("accounts", "unchanged"),
            ("contacts", "unchanged"),
            ("deals", "unchanged")
        ]
    );

    let listed = ok(&db, &["module", "list"]);
    let slugs: Vec<&str> = listed["modules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["slug"].as_str().unwrap())
        .collect();
    assert_eq!(slugs, ["accounts", "contacts", "deals"]);
    let contacts_id = listed["modules"][1]["id"].as_str().unwrap();
    assert!(contacts_id.starts_with("mod_"), "{contacts_id}");
    let applied_id = again["modules"][1]["id"].as_str().unwrap();
    assert_eq!(applied_id, contacts_id, "apply reports the stored id");

    let shown = ok(&db, &["module", "show", "contacts"]);
    let module = &shown["module"];
    assert_eq!(module["slug"], "contacts");
    assert_eq!(module["name"], "Contacts");
    assert_eq!(module["id"], contacts_id);
    assert_eq!(
        module["displayName"],
        json!(["{first_name} {last_name}", "{email}"])
    );
    let fields = module["fields"].as_array().unwrap();
    assert_eq!(fields.len(), 14);
    let email = fields.iter().find(|f| f["slug"] == "email").unwrap();
    assert_eq!(email["type"], "email");
    assert_eq!(email["unique"], true);
    let first_name = fields.iter().find(|f| f["slug"] == "first_name").unwrap();
    assert_eq!(first_name.get("unique"), None, "unique only where declared");

    let (code, json, _) = rp(&db, &["module", "show", "nope"]);
    assert_eq!(code, 3);
    assert_eq!(json["error"]["code"], "not_found");

    // Human output.
    let (code, text, _) = rp_text(&db, &["module", "show", "contacts"]);
    assert_eq!(code, 0);
    assert!(text.starts_with("Contacts (contacts), mod_"), "{text}");
    assert!(text.contains("unique"), "{text}");
    let (code, text, _) = rp_text(&db, &["module", "apply", &accounts]);
    assert_eq!((code, text.as_str()), (0, "unchanged accounts\n"));
}
both!(module_apply_list_show, module_apply_list_show);

async fn module_apply_creates_updates_and_rejects(db: TestDb) {
    let dir = tempfile::tempdir().unwrap();
    // A module referencing one defined in a later file of the same command.
    let projects = |extra_field: &str| {
        format!(
            r#"{{"slug":"projects","name":"Projects","displayName":["{{title}}"],
                "fields":[{{"slug":"title","label":"Title","type":"text","required":true}},
                          {{"slug":"team","label":"Team","type":"reference","target":"teams"}}{extra_field}]}}"#
        )
    };
    let projects_path = write(dir.path(), "projects.json", &projects(""));
    let teams_path = write(
        dir.path(),
        "teams.json",
        r#"{"slug":"teams","name":"Teams","fields":[{"slug":"name","label":"Name","type":"text"}]}"#,
    );
    let (p, t) = (
        projects_path.display().to_string(),
        teams_path.display().to_string(),
    );
    let created = ok(&db, &["module", "apply", &p, &t]);
    assert_eq!(
        outcomes(&created),
        [("teams", "created"), ("projects", "created")]
    );
    let unchanged = ok(&db, &["module", "apply", &p, &t]);
    assert_eq!(
        outcomes(&unchanged),
        [("teams", "unchanged"), ("projects", "unchanged")]
    );
    assert_eq!(unchanged["modules"][1]["id"], created["modules"][1]["id"]);

    // A changed definition is an update of the same module.
    write(
        dir.path(),
        "projects.json",
        &projects(r#",{"slug":"budget","label":"Budget","type":"currency"}"#),
    );
    let updated = ok(&db, &["module", "apply", &p]);
    assert_eq!(outcomes(&updated), [("projects", "updated")]);
    assert_eq!(updated["modules"][0]["id"], created["modules"][1]["id"]);
    let shown = ok(&db, &["module", "show", "projects"]);
    let slugs: Vec<&str> = shown["module"]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["slug"].as_str().unwrap())
        .collect();
    assert_eq!(slugs, ["title", "team", "budget"]);

    // A bad field type: non-zero exit, the file named, and nothing of the command applied.
    let bad_path = write(
        dir.path(),
        "bad_type.json",
        r#"{"slug":"widgets","name":"Widgets","fields":[{"slug":"colour","label":"Colour","type":"colour"}]}"#,
    );
    let good_path = write(
        dir.path(),
        "gadgets.json",
        r#"{"slug":"gadgets","name":"Gadgets","fields":[{"slug":"name","label":"Name","type":"text"}]}"#,
    );
    let (bad, good) = (
        bad_path.display().to_string(),
        good_path.display().to_string(),
    );
    let (code, stdout, stderr) = rp_text(&db, &["module", "apply", &good, &bad]);
    assert_eq!(code, 2, "{stderr}");
    assert_eq!(stdout, "");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.starts_with("error: "), "{stderr}");
    assert!(stderr.contains(&bad), "names the file: {stderr}");
    assert!(stderr.contains("colour"), "names the bad type: {stderr}");
    let (code, json, _) = rp(&db, &["module", "apply", &bad]);
    assert_eq!(code, 2);
    assert_eq!(json["error"]["code"], "validation_error");
    let message = json["error"]["message"].as_str().unwrap();
    assert!(message.contains(&bad), "{message}");
    let listed = ok(&db, &["module", "list"]);
    let slugs: Vec<&str> = listed["modules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["slug"].as_str().unwrap())
        .collect();
    assert_eq!(
        slugs,
        ["accounts", "contacts", "deals", "projects", "teams"]
    );

    // A select without options fails the check, also naming the file.
    let no_options = write(
        dir.path(),
        "no_options.json",
        r#"{"slug":"things","name":"Things","fields":[{"slug":"kind","label":"Kind","type":"select"}]}"#,
    );
    let no_options = no_options.display().to_string();
    let (code, json, _) = rp(&db, &["module", "apply", &no_options]);
    assert_eq!(code, 2);
    assert_eq!(json["error"]["details"]["field"], "kind");
    let message = json["error"]["message"].as_str().unwrap();
    assert!(message.starts_with(&format!("{no_options}: ")), "{message}");

    // A missing file.
    let missing = dir.path().join("missing.json").display().to_string();
    let (code, _, stderr) = rp_text(&db, &["module", "apply", &missing]);
    assert_ne!(code, 0);
    assert!(stderr.contains(&missing), "{stderr}");
}
both!(
    module_apply_creates_updates_and_rejects,
    module_apply_creates_updates_and_rejects
);

// 2. The "Done when" flow.

/// Spec 000's nested filter: active AND (deal value ≥ 50,000 OR company is Acme Corp).
const ADVANCED_FILTER: &str = r#"{"root":{"id":"g1","conjunction":"AND","conditions":[
    {"id":"c1","fieldSlug":"status","operator":"eq","value":"active"},
    {"id":"g2","conjunction":"OR","conditions":[
        {"id":"c2","fieldSlug":"deal_value","operator":"gte","value":50000},
        {"id":"c3","fieldSlug":"company","operator":"eq","value":"Acme Corp"}]}]}}"#;

async fn done_when_flow(db: TestDb) {
    // The create body of spec 000, with its optional parts.
    let body = json!({
        "displayName": "Alice Johnson",
        "fields": {
            "email": "Alice@Example.com",
            "phone": "+1 (212) 555-0100",
            "company": "Tech Startup Inc",
            "job_title": "CTO",
            "status": "lead",
            "source": "conference",
            "deal_value": 80000
        },
        "labelIds": ["lbl_hot_lead"],
        "typeIds": ["type_lead"],
        "privacyLevel": "team"
    })
    .to_string();
    let created = contacts_ok(&db, &["create", "--data", &body]);
    let alice = &created["record"];
    let id = id_of(alice);
    assert!(id.starts_with("rec_"), "{id}");
    assert_eq!(alice["version"], 1);
    assert_eq!(alice["moduleSlug"], "contacts");
    assert_eq!(alice["displayName"], "Alice Johnson");
    assert_eq!(alice["fields"]["email"], "alice@example.com");
    assert_eq!(alice["fields"]["phone"][0]["number"], "+12125550100");
    assert_eq!(alice["fields"]["deal_value"], 80000);
    assert_eq!(alice["labelIds"], json!(["lbl_hot_lead"]));
    assert_eq!(alice["typeIds"], json!(["type_lead"]));
    assert_eq!(alice["privacyLevel"], "team");
    assert_eq!(alice["createdByUserId"], "usr_local");
    assert_eq!(alice["createdByDisplayName"], "Local user");
    assert!(alice["moduleId"].as_str().unwrap().starts_with("mod_"));

    let ada = create_contact(
        &db,
        json!({"first_name": "Ada", "last_name": "Lovelace", "status": "active", "deal_value": 75000}),
    );
    let grace = create_contact(
        &db,
        json!({"first_name": "Grace", "last_name": "Hopper", "status": "active", "deal_value": 10000, "company": "Acme Corp"}),
    );
    create_contact(
        &db,
        json!({"first_name": "Linus", "last_name": "Torvalds", "status": "active", "deal_value": 20000, "company": "Linux"}),
    );
    create_contact(
        &db,
        json!({"first_name": "Katherine", "last_name": "Johnson", "status": "active"}),
    );

    let found = list(&db, &["--advanced-filter", ADVANCED_FILTER]);
    assert_eq!(sorted(names(&found)), ["Ada Lovelace", "Grace Hopper"]);
    assert_eq!(found["total"], 2);
    assert_eq!(found["page"], 1);
    assert_eq!(found["pageSize"], 25);
    assert_eq!(found.get("pagination"), None);
    let ids: Vec<&str> = found["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        sorted(ids),
        sorted(vec![
            ada["id"].as_str().unwrap(),
            grace["id"].as_str().unwrap()
        ])
    );

    // Alice becomes active: now she matches too (80,000 ≥ 50,000).
    let updated = contacts_ok(
        &db,
        &[
            "update",
            &id,
            "--data",
            r#"{"version":1,"fields":{"status":"active"}}"#,
            "--user-id",
            "usr_cli",
            "--user-name",
            "CLI Tester",
        ],
    );
    let record = &updated["record"];
    assert_eq!(record["id"], id.as_str());
    assert_eq!(record["version"], 2);
    assert_eq!(record["fields"]["status"], "active");
    assert_eq!(
        record["fields"]["company"], "Tech Startup Inc",
        "PATCH keeps"
    );
    assert_eq!(record["updatedByUserId"], "usr_cli");
    assert_eq!(record["updatedByDisplayName"], "CLI Tester");
    assert_eq!(record["createdByUserId"], "usr_local");
    let found = list(&db, &["--advanced-filter", ADVANCED_FILTER]);
    assert_eq!(
        sorted(names(&found)),
        ["Ada Lovelace", "Alice Johnson", "Grace Hopper"]
    );
    assert_eq!(found["total"], 3);

    // The same stale update again: a conflict, exit 4.
    let stale = [
        "update",
        &id,
        "--data",
        r#"{"version":1,"fields":{"status":"churned"}}"#,
    ];
    let (code, json, stderr) = contacts(&db, &stale);
    assert_eq!(code, 4, "{json} {stderr}");
    assert_eq!(json["error"]["code"], "conflict");
    assert_eq!(json["error"]["details"]["yourVersion"], 1);
    assert_eq!(json["error"]["details"]["currentVersion"], 2);
    assert_eq!(json["error"]["details"]["recordId"], id.as_str());
    assert!(json["error"]["message"].as_str().unwrap().contains(&id));
    assert_eq!(stderr, "", "--json errors go to stdout only");
    let (code, stdout, stderr) = contacts_text(&db, &stale);
    assert_eq!(code, 4);
    assert_eq!(stdout, "");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.starts_with("error: record "), "{stderr}");
    assert!(stderr.contains("current version is 2"), "{stderr}");
    let got = contacts_ok(&db, &["get", &id]);
    assert_eq!(
        got["record"]["fields"]["status"], "active",
        "nothing written"
    );
    assert_eq!(got["record"]["version"], 2);

    // Delete: gone from get and list, back with restore.
    let deleted = contacts_ok(&db, &["delete", &id]);
    assert_eq!(deleted, json!({ "success": true }));
    let (code, json, _) = contacts(&db, &["get", &id]);
    assert_eq!(code, 3);
    assert_eq!(json["error"]["code"], "not_found");
    assert_eq!(json["error"]["details"]["id"], id.as_str());
    let (code, stdout, stderr) = contacts_text(&db, &["get", &id]);
    assert_eq!((code, stdout.as_str()), (3, ""));
    assert_eq!(stderr, format!("error: record '{id}' not found\n"));
    assert_eq!(
        list(&db, &["--advanced-filter", ADVANCED_FILTER])["total"],
        2
    );
    assert_eq!(contacts_err(&db, &["delete", &id]), err(3, "not_found"));

    let restored = contacts_ok(&db, &["restore", &id]);
    let record = &restored["record"];
    assert_eq!(record["id"], id.as_str());
    assert_eq!(record["version"], 4);
    assert_eq!(record["fields"]["status"], "active");
    assert_eq!(record["fields"]["email"], "alice@example.com");
    assert_eq!(record.get("deletedDateTime"), None);
    let got = contacts_ok(&db, &["get", &id]);
    assert_eq!(got["record"], *record);
    assert_eq!(contacts_err(&db, &["restore", &id]), err(3, "not_found"));

    // History, newest first.
    let history = contacts_ok(&db, &["history", &id]);
    let versions = history["versions"].as_array().unwrap();
    let steps: Vec<(i64, &str)> = versions
        .iter()
        .map(|v| {
            (
                v["version"].as_i64().unwrap(),
                v["action"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        steps,
        [(4, "restore"), (3, "delete"), (2, "update"), (1, "create")]
    );
    assert_eq!(
        versions[2]["changes"],
        json!({ "status": { "old": "lead", "new": "active" } })
    );
    assert_eq!(versions[2]["userId"], "usr_cli");
    assert_eq!(versions[2]["userDisplayName"], "CLI Tester");
    assert_eq!(versions[3]["fields"]["status"], "lead");
    assert_eq!(versions[3]["userId"], "usr_local");

    // A past version.
    let v1 = contacts_ok(&db, &["get", &id, "--version", "1"]);
    assert_eq!(v1["record"]["version"], 1);
    assert_eq!(v1["record"]["fields"]["status"], "lead");
    assert_eq!(
        contacts_err(&db, &["get", &id, "--version", "9"]),
        err(3, "not_found")
    );
}
both!(done_when_flow, done_when_flow);

// 3. Request bodies.

async fn data_from_file_and_validation(db: TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let body = write(
        dir.path(),
        "body.json",
        r#"{"fields":{"first_name":"Ada","last_name":"Lovelace","email":"ADA@example.com","deal_value":"$1,234.50"}}"#,
    );
    let at_file = format!("@{}", body.display());
    let created = contacts_ok(&db, &["create", "--data", &at_file]);
    assert_eq!(created["record"]["displayName"], "Ada Lovelace");
    assert_eq!(created["record"]["fields"]["email"], "ada@example.com");
    assert_eq!(created["record"]["fields"]["deal_value"], 1234.5);
    let id = id_of(&created["record"]);

    // The update body from a file too.
    let patch = write(
        dir.path(),
        "patch.json",
        r#"{"version":1,"fields":{"last_name":"King"}}"#,
    );
    let at_patch = format!("@{}", patch.display());
    let updated = contacts_ok(&db, &["update", &id, "--data", &at_patch]);
    assert_eq!(updated["record"]["displayName"], "Ada King");
    assert_eq!(updated["record"]["version"], 2);

    // Not JSON.
    let (code, json, _) = contacts(&db, &["create", "--data", r#"{"fields":"#]);
    assert_eq!(code, 2);
    assert_eq!(json["error"]["code"], "validation_error");
    assert!(
        json["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("--data: invalid JSON"),
        "{json}"
    );
    let bad_file = write(dir.path(), "bad.json", "{ nope");
    assert_eq!(
        contacts_err(
            &db,
            &["create", "--data", &format!("@{}", bad_file.display())]
        ),
        err(2, "validation_error")
    );
    // A body key the spec does not have.
    assert_eq!(
        contacts_err(&db, &["create", "--data", r#"{"feilds":{}}"#]),
        err(2, "validation_error")
    );

    // A bad email names its field, in JSON and on stderr.
    let bad_email = r#"{"fields":{"first_name":"Bob","email":"not-an-email"}}"#;
    let (code, json, _) = contacts(&db, &["create", "--data", bad_email]);
    assert_eq!(code, 2);
    assert_eq!(json["error"]["code"], "validation_error");
    assert_eq!(json["error"]["details"]["field"], "email");
    assert_eq!(json["error"]["details"]["fields"][0]["field"], "email");
    assert_eq!(
        json["error"]["details"]["fields"][0]["value"],
        "not-an-email"
    );
    assert!(
        json["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("email: "),
        "{json}"
    );
    let (code, stdout, stderr) = contacts_text(&db, &["create", "--data", bad_email]);
    assert_eq!((code, stdout.as_str()), (2, ""));
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.starts_with("error: email: "), "{stderr}");

    // Several bad fields: each named.
    let (code, json, _) = contacts(
        &db,
        &[
            "create",
            "--data",
            r#"{"fields":{"email":"nope","deal_value":"lots","colour":"red"}}"#,
        ],
    );
    assert_eq!(code, 2);
    let mut bad: Vec<&str> = json["error"]["details"]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["field"].as_str().unwrap())
        .collect();
    bad.sort_unstable();
    assert_eq!(bad, ["colour", "deal_value", "email"]);

    // A unique value taken: conflict.
    let (code, json, _) = contacts(
        &db,
        &[
            "create",
            "--data",
            r#"{"fields":{"email":"ada@EXAMPLE.com"}}"#,
        ],
    );
    assert_eq!(code, 4);
    assert_eq!(json["error"]["code"], "conflict");
    assert_eq!(json["error"]["details"]["field"], "email");
    assert_eq!(json["error"]["details"]["recordId"], id.as_str());

    // An unknown module.
    let (code, json, _) = rp(&db, &["records", "list", "--module", "nope"]);
    assert_eq!(code, 3);
    assert_eq!(json["error"]["code"], "not_found");
    assert_eq!(
        json["error"]["details"],
        json!({"entity": "module", "id": "nope"})
    );

    // Nothing but the first record was written.
    assert_eq!(list(&db, &[])["total"], 1);
}
both!(data_from_file_and_validation, data_from_file_and_validation);

// 6. Choosing the database.

async fn database_from_env(db: TestDb) {
    let created = create_contact(&db, json!({"first_name": "Env", "last_name": "Var"}));
    let cwd = tempfile::tempdir().unwrap();
    let mut cmd = command();
    cmd.current_dir(cwd.path())
        .env("RECORDPORT_DATABASE_URL", &db.url)
        .args(["--json", "records", "list", "--module", "contacts"]);
    let run = execute(cmd);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.json["total"], 1);
    assert_eq!(run.json["records"][0]["id"], created["id"]);
    assert_eq!(
        std::fs::read_dir(cwd.path()).unwrap().count(),
        0,
        "no default database created"
    );

    // The author from the environment too.
    let mut cmd = command();
    cmd.env("RECORDPORT_DATABASE_URL", &db.url)
        .env("RECORDPORT_USER_ID", "usr_env")
        .env("RECORDPORT_USER_NAME", "Env User")
        .args([
            "--json",
            "records",
            "create",
            "--module",
            "contacts",
            "--data",
            r#"{"fields":{"first_name":"By","last_name":"Env"}}"#,
        ]);
    let run = execute(cmd);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.json["record"]["createdByUserId"], "usr_env");
    assert_eq!(run.json["record"]["createdByDisplayName"], "Env User");

    // --db wins over the environment.
    let mut cmd = command();
    cmd.current_dir(cwd.path())
        .env(
            "RECORDPORT_DATABASE_URL",
            "postgres://nobody@127.0.0.1:1/none",
        )
        .args([
            "--db", &db.url, "--json", "records", "list", "--module", "contacts",
        ]);
    let run = execute(cmd);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.json["total"], 2);
}
both!(database_from_env, database_from_env);

#[test]
fn plain_path_is_a_sqlite_file() {
    let dir = tempfile::tempdir().unwrap();
    let plain = |args: &[&str]| {
        let mut cmd = command();
        cmd.current_dir(dir.path())
            .args(["--db", "local.db", "--json"])
            .args(args);
        execute(cmd)
    };
    let (accounts, contacts, deals) = (
        module_file("accounts"),
        module_file("contacts"),
        module_file("deals"),
    );
    let run = plain(&["module", "apply", &accounts, &contacts, &deals]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        outcomes(&run.json),
        [
            ("accounts", "created"),
            ("contacts", "created"),
            ("deals", "created")
        ]
    );
    let file = dir.path().join("local.db");
    assert!(
        file.is_file(),
        "the SQLite file is created in the working directory"
    );
    let mut header = [0u8; 16];
    std::io::Read::read_exact(&mut std::fs::File::open(&file).unwrap(), &mut header).unwrap();
    assert_eq!(&header, b"SQLite format 3\0");

    let run = plain(&[
        "records",
        "create",
        "--module",
        "contacts",
        "--data",
        r#"{"fields":{"first_name":"Plain","last_name":"Path"}}"#,
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let id = run.json["record"]["id"].clone();

    // The same file by its sqlite:// URL.
    let mut cmd = command();
    cmd.args([
        "--db",
        &format!("sqlite://{}", file.display()),
        "--json",
        "records",
        "list",
        "--module",
        "contacts",
    ]);
    let run = execute(cmd);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.json["total"], 1);
    assert_eq!(run.json["records"][0]["id"], id);
    assert_eq!(run.stdout.trim_start().chars().next(), Some('{'));
}

mod lists;
