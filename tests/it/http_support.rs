//! Helpers for the HTTP API tests: the real `recordport serve` binary (with its embedded worker)
//! on a loopback port (port 0, the address read from its first line of output), API keys made
//! through the library, and a small JSON client over reqwest.

use std::io::{BufRead, BufReader};
use std::process::{Child, ChildStdout, Stdio};

use recordport::apikeys::{self, Scope};
use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::common::{TestDb, recordport_process};

pub struct Server {
    child: Child,
    /// `http://127.0.0.1:PORT`
    pub base: String,
    pub client: reqwest::Client,
    /// A key with every scope.
    pub key: String,
    pub dir: tempfile::TempDir,
    _stdout: BufReader<ChildStdout>,
}

impl Server {
    /// Starts `recordport --db URL serve --bind 127.0.0.1:0 EXTRA…` with its own uploads and
    /// exports directories.
    pub async fn start(db: &TestDb, extra: &[&str]) -> Server {
        let dir = tempfile::tempdir().expect("temp dir");
        let folders: Vec<String> = ["uploads", "export", "jobs"]
            .iter()
            .flat_map(|folder| {
                [
                    format!("--{folder}-dir"),
                    dir.path().join(folder).display().to_string(),
                ]
            })
            .collect();
        let folders: Vec<&str> = folders.iter().map(String::as_str).collect();
        Self::spawn(db, &[&folders[..], extra].concat(), None, dir).await
    }

    /// Starts the server in the directory `cwd` with its working directories left to their
    /// defaults.
    pub async fn start_in(db: &TestDb, cwd: &std::path::Path, extra: &[&str]) -> Server {
        let dir = tempfile::tempdir().expect("temp dir");
        Self::spawn(db, extra, Some(cwd), dir).await
    }

    async fn spawn(
        db: &TestDb,
        args: &[&str],
        cwd: Option<&std::path::Path>,
        dir: tempfile::TempDir,
    ) -> Server {
        let mut command = recordport_process();
        if let Some(cwd) = cwd {
            command.current_dir(cwd);
        }
        let mut child = command
            .args(["--db", &db.url, "serve", "--bind", "127.0.0.1:0"])
            .args(args)
            // The embedded worker looks at the queue often, so job tests wait little.
            .args(["--worker-poll-ms", "50"])
            // Request logs would drown the test output.
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start recordport serve");
        let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
        let mut first = String::new();
        stdout.read_line(&mut first).expect("read the address");
        let base = first
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("unexpected first line: {first:?}"))
            .to_string();
        let key = key_with(db, &Scope::ALL).await;
        Server {
            child,
            base,
            client: {
                // reqwest is built with rustls and no default crypto provider (see
                // recordport::webhooks::dispatch): install the one the binary uses.
                recordport::webhooks::dispatch::install_tls_provider();
                reqwest::Client::new()
            },
            key,
            dir,
            _stdout: stdout,
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits for the process to exit (after a signal); its status.
    pub fn wait(&mut self) -> std::process::ExitStatus {
        self.child.wait().expect("wait for the server")
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// A request with the all-scopes key.
    pub fn request(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        self.client
            .request(method, self.url(path))
            .bearer_auth(&self.key)
    }

    /// Sends a JSON request (body `Value::Null`: none) with `key`; the status and the JSON body.
    pub async fn call_with(
        &self,
        key: Option<&str>,
        method: Method,
        path: &str,
        body: Value,
    ) -> (StatusCode, Value) {
        let mut request = self.client.request(method, self.url(path));
        if let Some(key) = key {
            request = request.bearer_auth(key);
        }
        if !body.is_null() {
            request = request.json(&body);
        }
        let response = request.send().await.expect("send");
        json_of(response).await
    }

    pub async fn call(&self, method: Method, path: &str, body: Value) -> (StatusCode, Value) {
        self.call_with(Some(&self.key.clone()), method, path, body)
            .await
    }

    pub async fn get(&self, path: &str) -> (StatusCode, Value) {
        self.call(Method::GET, path, Value::Null).await
    }

    pub async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.call(Method::POST, path, body).await
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A new key with these scopes.
pub async fn key_with(db: &TestDb, scopes: &[Scope]) -> String {
    apikeys::create(db.service.store(), "test", scopes)
        .await
        .expect("create key")
        .secret
}

pub async fn json_of(response: reqwest::Response) -> (StatusCode, Value) {
    let status = response.status();
    let text = response.text().await.expect("body");
    let value = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("not JSON ({e}), status {status}: {text}"));
    (status, value)
}

/// The `Retry-After` of a 429, in seconds; checked to be a sane wait (1 s to a minute).
pub fn retry_after_secs(response: &reqwest::Response) -> u64 {
    let secs: u64 = response.headers()["retry-after"]
        .to_str()
        .expect("Retry-After is text")
        .parse()
        .expect("Retry-After in seconds");
    assert!((1..=60).contains(&secs), "Retry-After: {secs}");
    secs
}

/// Asserts spec 000's error body with this status and code.
pub fn assert_error(status: StatusCode, body: &Value, want_status: u16, want_code: &str) {
    assert_eq!(status.as_u16(), want_status, "body: {body}");
    assert_eq!(body["error"]["code"], want_code, "body: {body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "body: {body}"
    );
    assert!(body["error"]["details"].is_object(), "body: {body}");
}
