//! Webhooks through the real binary, on both stores: a receiver on loopback (a small axum server
//! in the test) checks each delivery's signature; a 500 is retried; a rolled-back change sends
//! nothing; an import sends one bulk event per committed batch; URLs that reach private
//! addresses are refused at creation and at delivery; the scopes guard the routes.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use recordport::apikeys::Scope;
use recordport::webhooks::signing;
use reqwest::Method;
use serde_json::{Value, json};

use crate::both;
use crate::common::{TestDb, recordport_process};
use crate::http_support::{Server, assert_error, key_with};

const SECRET: &str = "test-secret-0123456789";

/// One request the receiver got.
#[derive(Debug, Clone)]
struct Received {
    signature: String,
    event_header: String,
    body: Vec<u8>,
    /// What the receiver answered.
    answered: u16,
}

impl Received {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("a delivery's body is JSON")
    }
}

#[derive(Clone, Default)]
struct Log {
    received: Arc<Mutex<Vec<Received>>>,
    /// Requests answered 500 before the receiver starts answering 200.
    failures_left: Arc<Mutex<u32>>,
}

/// A webhook receiver on 127.0.0.1: records every POST and answers 500 to the first
/// `failures` of them, 200 after.
struct Receiver {
    url: String,
    log: Log,
    task: tokio::task::JoinHandle<()>,
}

impl Receiver {
    async fn start(failures: u32) -> Receiver {
        let log = Log {
            failures_left: Arc::new(Mutex::new(failures)),
            ..Log::default()
        };
        async fn hook(State(log): State<Log>, headers: HeaderMap, body: Bytes) -> StatusCode {
            let answer = {
                let mut left = log.failures_left.lock().unwrap();
                if *left > 0 {
                    *left -= 1;
                    StatusCode::INTERNAL_SERVER_ERROR
                } else {
                    StatusCode::OK
                }
            };
            let header = |name: &str| {
                headers
                    .get(name)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default()
                    .to_string()
            };
            log.received.lock().unwrap().push(Received {
                signature: header("x-recordport-signature"),
                event_header: header("x-recordport-event"),
                body: body.to_vec(),
                answered: answer.as_u16(),
            });
            answer
        }
        let app = axum::Router::new()
            .route("/hook", axum::routing::post(hook))
            .with_state(log.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Receiver { url, log, task }
    }

    fn received(&self) -> Vec<Received> {
        self.log.received.lock().unwrap().clone()
    }

    /// Waits until at least `n` requests came in; all of them.
    async fn wait_for(&self, n: usize) -> Vec<Received> {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let got = self.received();
            if got.len() >= n {
                return got;
            }
            assert!(
                Instant::now() < deadline,
                "expected {n} deliveries, got {}: {got:?}",
                got.len()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn assert_signed(received: &Received) {
    assert!(
        signing::verify(SECRET, &received.signature, &received.body),
        "bad signature {:?} for {}",
        received.signature,
        String::from_utf8_lossy(&received.body)
    );
    assert!(!signing::verify(
        "another-secret-0123456789",
        &received.signature,
        &received.body
    ));
}

both!(
    http_delivery_signature_retry_and_rollback,
    delivery_signature_retry_and_rollback
);
async fn delivery_signature_retry_and_rollback(db: TestDb) {
    let receiver = Receiver::start(1).await;
    let server = Server::start(
        &db,
        &["--allow-private-webhooks", "--webhook-retry-base-ms", "200"],
    )
    .await;
    let (status, body) = server
        .post(
            "/v1/webhooks",
            json!({"url": receiver.url, "secret": SECRET,
                   "events": ["record.created", "record.updated", "record.bulk.created"]}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let webhook = &body["webhook"];
    let webhook_id = webhook["id"].as_str().unwrap().to_string();
    assert_eq!(webhook["secret"], SECRET);
    assert_eq!(
        webhook["events"],
        json!(["record.created", "record.updated", "record.bulk.created"])
    );
    let (status, listed) = server.get("/v1/webhooks").await;
    assert_eq!(status, 200);
    assert_eq!(listed["webhooks"][0]["id"], webhook_id);
    assert!(listed["webhooks"][0].get("secret").is_none(), "{listed}");

    // A create: the first try gets a 500, the retry a 200; both carry the same signed body.
    let (status, created) = server
        .post(
            "/v1/modules/contacts/records",
            json!({"fields": {"first_name": "Ada", "last_name": "Lovelace", "email": "ada@example.com"}}),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    let record_id = created["record"]["id"].as_str().unwrap().to_string();
    let got = receiver.wait_for(2).await;
    assert_eq!(got[0].answered, 500);
    assert_eq!(got[1].answered, 200);
    assert_eq!(got[0].body, got[1].body, "a retry sends the same event");
    for delivery in &got {
        assert_signed(delivery);
        assert_eq!(delivery.event_header, "record.created");
    }
    let event = got[0].json();
    assert_eq!(event["event"], "record.created");
    assert!(
        event["timestamp"].as_str().unwrap().ends_with('Z'),
        "{event}"
    );
    assert_eq!(event["data"]["record"]["id"], record_id.as_str());
    assert_eq!(
        event["data"]["record"]["fields"]["email"],
        "ada@example.com"
    );
    assert_eq!(event["data"]["metadata"]["source"], "api");
    assert!(event["data"]["metadata"]["userId"].is_string(), "{event}");

    // A bulk create with one bad record rolls back whole: it must send nothing. The update
    // after it is the next event the receiver may see.
    let (status, body) = server
        .post(
            "/v1/modules/contacts/records/bulk",
            json!({"records": [
                {"fields": {"first_name": "Grace", "email": "grace@example.com"}},
                {"fields": {"first_name": "Bad", "email": "not an email"}}
            ]}),
        )
        .await;
    assert_error(status, &body, 400, "validation_error");
    let (status, updated) = server
        .call(
            Method::PATCH,
            &format!("/v1/modules/contacts/records/{record_id}"),
            json!({"fields": {"status": "customer"}}),
        )
        .await;
    assert_eq!(status, 200, "{updated}");
    let got = receiver.wait_for(3).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let got_now = receiver.received();
    assert_eq!(
        got_now.len(),
        3,
        "only the update came after the create: {got:?}"
    );
    let update = got_now[2].json();
    assert_signed(&got_now[2]);
    assert_eq!(update["event"], "record.updated");
    assert_eq!(update["data"]["changes"]["status"]["new"], "customer");
    assert_eq!(update["data"]["changes"]["status"]["old"], Value::Null);
    assert_eq!(update["data"]["previous"]["version"], 1);
    assert_eq!(update["data"]["record"]["version"], 2);

    // The delivery log: the create's delivery with both of its attempts.
    let (status, log) = server
        .get(&format!("/v1/webhooks/{webhook_id}/deliveries"))
        .await;
    assert_eq!(status, 200, "{log}");
    let deliveries = log["deliveries"].as_array().unwrap();
    assert_eq!(deliveries.len(), 2, "{log}");
    let first = deliveries
        .iter()
        .find(|d| d["event"] == "record.created")
        .unwrap();
    assert_eq!(first["status"], "delivered");
    assert_eq!(first["attempts"], 2);
    let codes: Vec<&Value> = first["attemptLog"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| &a["statusCode"])
        .collect();
    assert_eq!(codes, vec![&json!(500), &json!(200)]);

    // Redelivery sends the same event again, as a new delivery.
    let delivery_id = first["id"].as_str().unwrap();
    let (status, again) = server
        .post(
            &format!("/v1/webhooks/{webhook_id}/deliveries/{delivery_id}/redeliver"),
            Value::Null,
        )
        .await;
    assert_eq!(status, 202, "{again}");
    assert_ne!(again["delivery"]["id"], delivery_id);
    let got = receiver.wait_for(4).await;
    assert_eq!(got[3].body, got[0].body);
    assert_signed(&got[3]);

    // Deleted: no more deliveries, and a 404 after.
    let (status, _) = server
        .call(
            Method::DELETE,
            &format!("/v1/webhooks/{webhook_id}"),
            Value::Null,
        )
        .await;
    assert_eq!(status, 200);
    let (status, body) = server.get(&format!("/v1/webhooks/{webhook_id}")).await;
    assert_error(status, &body, 404, "not_found");
}

both!(
    http_private_urls_refused_and_scopes,
    private_urls_refused_and_scopes
);
async fn private_urls_refused_and_scopes(db: TestDb) {
    let server = Server::start(&db, &[]).await;
    for url in [
        "http://127.0.0.1:9/hook",
        "http://localhost:9/hook",
        "http://10.1.2.3/hook",
        "http://169.254.169.254/latest",
        "http://[::1]:9/hook",
        "http://0.0.0.0:9/hook",
    ] {
        let (status, body) = server
            .post(
                "/v1/webhooks",
                json!({"url": url, "events": ["record.created"], "secret": SECRET}),
            )
            .await;
        assert_error(status, &body, 400, "validation_error");
        assert_eq!(
            body["error"]["details"]["fields"][0]["field"], "url",
            "{body}"
        );
    }
    let (status, body) = server
        .post(
            "/v1/webhooks",
            json!({"url": "https://example.com/hook", "events": ["record.exploded"], "secret": SECRET}),
        )
        .await;
    assert_error(status, &body, 400, "validation_error");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("events[0]"),
        "{body}"
    );

    // Scopes: records keys may not touch webhooks; webhooks:read may only read.
    let records_key = key_with(&db, &[Scope::RecordsRead, Scope::RecordsWrite]).await;
    let read_key = key_with(&db, &[Scope::WebhooksRead]).await;
    let new =
        json!({"url": "https://example.com/hook", "events": ["record.created"], "secret": SECRET});
    let (status, body) = server
        .call_with(
            Some(&records_key),
            Method::POST,
            "/v1/webhooks",
            new.clone(),
        )
        .await;
    assert_error(status, &body, 403, "forbidden");
    let (status, body) = server
        .call_with(Some(&records_key), Method::GET, "/v1/webhooks", Value::Null)
        .await;
    assert_error(status, &body, 403, "forbidden");
    let (status, body) = server
        .call_with(Some(&read_key), Method::POST, "/v1/webhooks", new)
        .await;
    assert_error(status, &body, 403, "forbidden");
    let (status, body) = server
        .call_with(Some(&read_key), Method::GET, "/v1/webhooks", Value::Null)
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = server
        .call_with(
            Some(&read_key),
            Method::DELETE,
            "/v1/webhooks/whk_x",
            Value::Null,
        )
        .await;
    assert_error(status, &body, 403, "forbidden");

    // The OpenAPI document has the routes.
    let (status, document) = server.get("/v1/openapi.json").await;
    assert_eq!(status, 200);
    for path in [
        "/v1/webhooks",
        "/v1/webhooks/{webhookId}",
        "/v1/webhooks/{webhookId}/deliveries",
        "/v1/webhooks/{webhookId}/deliveries/{deliveryId}/redeliver",
    ] {
        assert!(document["paths"][path].is_object(), "{path} missing");
    }
}

/// `recordport --db URL --json ARGS…`: exit code and stdout as JSON (or `Null`).
fn cli(db: &TestDb, args: &[&str]) -> (i32, Value, String) {
    let mut cmd = recordport_process();
    cmd.args(["--db", &db.url, "--json"]).args(args);
    let out = tokio::task::block_in_place(|| cmd.output()).expect("run recordport");
    let stdout = String::from_utf8(out.stdout).unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    (
        out.status.code().unwrap(),
        serde_json::from_str(&stdout).unwrap_or(Value::Null),
        format!("{stdout}{stderr}"),
    )
}

/// `recordport worker --exit-when-idle EXTRA…`: runs what is queued and due, then exits 0.
fn run_worker(db: &TestDb, extra: &[&str]) {
    let args = [&["worker", "--exit-when-idle", "--poll-ms", "50"], extra].concat();
    let (code, _, output) = cli(db, &args);
    assert_eq!(code, 0, "{output}");
}

both!(
    cli_import_batches_and_delivery_guard,
    import_batches_and_delivery_guard
);
async fn import_batches_and_delivery_guard(db: TestDb) {
    let receiver = Receiver::start(0).await;
    // Without the flag the CLI refuses a private URL, as the server does.
    let (code, body, output) = cli(
        &db,
        &[
            "webhook",
            "create",
            "--url",
            &receiver.url,
            "--events",
            "record.created",
        ],
    );
    assert_eq!(code, 2, "{output}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("loopback"),
        "{body}"
    );
    let (code, created, output) = cli(
        &db,
        &[
            "webhook",
            "create",
            "--url",
            &receiver.url,
            "--events",
            "record.bulk.created,record.created,import.completed",
            "--secret",
            SECRET,
            "--allow-private-webhooks",
        ],
    );
    assert_eq!(code, 0, "{output}");
    let webhook_id = created["webhook"]["id"].as_str().unwrap().to_string();
    let (code, listed, _) = cli(&db, &["webhook", "list"]);
    assert_eq!(code, 0);
    assert_eq!(listed["webhooks"][0]["id"], webhook_id.as_str());

    // Five rows in batches of two: three bulk events with every id once, and no per-row event.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("people.csv");
    let mut csv = String::from("First Name,Last Name,Email\n");
    for i in 0..5 {
        csv.push_str(&format!("P{i},Q{i},person{i}@example.com\n"));
    }
    std::fs::write(&file, csv).unwrap();
    let file = file.display().to_string();
    let (code, imported, output) = cli(
        &db,
        &[
            "import",
            "run",
            &file,
            "--module",
            "contacts",
            "--chunk-rows",
            "2",
            "--commit-rows",
            "2",
        ],
    );
    assert_eq!(code, 0, "{output}");
    run_worker(&db, &["--allow-private-webhooks"]);
    let got = receiver.wait_for(4).await;
    let events: Vec<Value> = got.iter().map(Received::json).collect();
    got.iter().for_each(assert_signed);
    let bulk: Vec<&Value> = events
        .iter()
        .filter(|e| e["event"] == "record.bulk.created")
        .collect();
    assert_eq!(bulk.len(), 3, "{events:?}");
    let mut ids: Vec<String> = bulk
        .iter()
        .flat_map(|e| e["data"]["recordIds"].as_array().unwrap().clone())
        .map(|id| id.as_str().unwrap().to_string())
        .collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 5, "{events:?}");
    for e in &bulk {
        assert_eq!(e["data"]["metadata"]["source"], "import");
        assert_eq!(e["data"]["moduleSlug"], "contacts");
        assert!(e["data"]["metadata"]["jobId"].is_string(), "{e}");
    }
    assert!(
        events.iter().all(|e| e["event"] != "record.created"),
        "{events:?}"
    );
    let completed: Vec<&Value> = events
        .iter()
        .filter(|e| e["event"] == "import.completed")
        .collect();
    assert_eq!(completed.len(), 1, "{events:?}");
    assert_eq!(completed[0]["data"]["job"]["createdRows"], 5, "{imported}");

    // A worker without --allow-private-webhooks refuses the loopback address at delivery time:
    // the attempt is logged, the receiver hears nothing.
    let before = receiver.received().len();
    let (code, _, output) = cli(
        &db,
        &[
            "records",
            "create",
            "--module",
            "contacts",
            "--data",
            r#"{"fields": {"email": "late@example.com"}}"#,
        ],
    );
    assert_eq!(code, 0, "{output}");
    run_worker(&db, &["--webhook-max-attempts", "1"]);
    assert_eq!(receiver.received().len(), before);
    let (code, log, output) = cli(&db, &["webhook", "deliveries", &webhook_id]);
    assert_eq!(code, 0, "{output}");
    let refused = log["deliveries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["event"] == "record.created")
        .unwrap_or_else(|| panic!("{log}"));
    assert_eq!(refused["status"], "failed", "{refused}");
    let error = refused["attemptLog"][0]["error"].as_str().unwrap();
    assert!(error.contains("refused"), "{error}");

    // Redeliver through the CLI; a worker allowed to reach loopback delivers it.
    let delivery_id = refused["id"].as_str().unwrap();
    let (code, again, output) = cli(&db, &["webhook", "redeliver", &webhook_id, delivery_id]);
    assert_eq!(code, 0, "{output}");
    assert_eq!(again["delivery"]["status"], "pending");
    run_worker(&db, &["--allow-private-webhooks"]);
    let got = receiver.wait_for(before + 1).await;
    assert_eq!(
        got[before].json()["data"]["record"]["fields"]["email"],
        "late@example.com"
    );
    let (code, _, _) = cli(&db, &["webhook", "delete", &webhook_id]);
    assert_eq!(code, 0);
    let (code, _, _) = cli(&db, &["webhook", "delete", &webhook_id]);
    assert_eq!(code, 3);
}
