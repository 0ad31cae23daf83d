//! Shared test helpers: a fresh database per test on SQLite (a temp file) or PostgreSQL (a fresh
//! schema in the server named by RECORDPORT_TEST_POSTGRES_URL), with the sample modules applied.

use std::path::PathBuf;

use recordport::records::{Actor, RecordService};
use recordport::schema::ModuleDef;
use recordport::store::Store;

pub const POSTGRES_URL_VAR: &str = "RECORDPORT_TEST_POSTGRES_URL";

/// Runs one async test body on SQLite and on PostgreSQL: `both!(name, body_fn)` makes the tests
/// `name::sqlite` and `name::postgres`. The PostgreSQL test skips when no server URL is given,
/// except under CI, where a missing server is a failure.
#[macro_export]
macro_rules! both {
    ($name:ident, $body:ident) => {
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let db = $crate::common::TestDb::sqlite().await;
                super::$body(db).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                if let Some(db) = $crate::common::TestDb::postgres().await {
                    super::$body(db).await;
                }
            }
        }
    };
}

pub struct TestDb {
    /// The URL to give `--db` or `Store::open`.
    pub url: String,
    pub service: RecordService,
    _dir: Option<tempfile::TempDir>,
}

impl TestDb {
    pub async fn sqlite() -> TestDb {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = format!("sqlite://{}", dir.path().join("test.db").display());
        Self::open(url, Some(dir)).await
    }

    pub async fn postgres() -> Option<TestDb> {
        let url = fresh_postgres_url().await?;
        Some(Self::open(url, None).await)
    }

    async fn open(url: String, dir: Option<tempfile::TempDir>) -> TestDb {
        let store = Store::open(&url).await.expect("open store");
        let service = RecordService::new(store);
        for def in sample_modules() {
            service
                .modules()
                .apply(&def)
                .await
                .expect("apply sample module");
        }
        TestDb {
            url,
            service,
            _dir: dir,
        }
    }
}

/// The URL of a fresh, empty schema in the server named by RECORDPORT_TEST_POSTGRES_URL; `None`
/// (the test skips) when no server is given, except under CI.
pub async fn fresh_postgres_url() -> Option<String> {
    let Ok(base) = std::env::var(POSTGRES_URL_VAR) else {
        assert!(
            std::env::var_os("CI").is_none(),
            "{POSTGRES_URL_VAR} must be set under CI: PostgreSQL tests may not skip there"
        );
        eprintln!("skipping: set {POSTGRES_URL_VAR} to run the PostgreSQL tests");
        return None;
    };
    let schema = format!("t_{}", uuid_like());
    let admin = sqlx::PgPool::connect(&base)
        .await
        .expect("connect to PostgreSQL");
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
        .execute(&admin)
        .await
        .expect("create schema");
    admin.close().await;
    let sep = if base.contains('?') { '&' } else { '?' };
    Some(format!("{base}{sep}options[search_path]={schema}"))
}

fn uuid_like() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!(
        "{}_{}_{}",
        std::process::id(),
        nanos,
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

pub fn sample_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("sample-data")
}

/// The sample modules, accounts first (contacts and deals reference it).
pub fn sample_modules() -> Vec<ModuleDef> {
    ["accounts", "contacts", "deals"]
        .iter()
        .map(|name| {
            let path = sample_dir().join("modules").join(format!("{name}.json"));
            let text = std::fs::read_to_string(&path).expect("read sample module");
            ModuleDef::from_json(&text, &path.display().to_string()).expect("sample module parses")
        })
        .collect()
}

/// Pipeline options with `chunk_rows` per chunk, `commit_rows` per transaction at most and
/// `threads` mapping threads.
pub fn pipeline(
    chunk_rows: usize,
    commit_rows: usize,
    threads: usize,
) -> recordport::import::PipelineOptions {
    recordport::import::PipelineOptions {
        chunk_rows,
        threads,
        commit: recordport::import::CommitPolicy {
            rows: commit_rows,
            ..recordport::import::CommitPolicy::default()
        },
        ..recordport::import::PipelineOptions::default()
    }
}

pub fn actor() -> Actor {
    Actor::new("usr_test", "Test User")
}

/// The binary as a process, with a clean environment (no database, author or log settings from
/// outside).
pub fn recordport_process() -> std::process::Command {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_recordport"));
    for var in [
        "RECORDPORT_DATABASE_URL",
        "RECORDPORT_USER_ID",
        "RECORDPORT_USER_NAME",
        "RECORDPORT_EXPORT_DIR",
        "RUST_LOG",
    ] {
        cmd.env_remove(var);
    }
    cmd
}

/// [`recordport_process`] with assert_cmd's helpers (stdin, output assertions).
pub fn recordport_command() -> assert_cmd::Command {
    recordport_process().into()
}

/// `recordport --db <db> --json ARGS…`, which must succeed: what it printed, as JSON.
pub fn cli_json(db: &TestDb, args: &[&str]) -> serde_json::Value {
    let mut cmd = recordport_process();
    cmd.args(["--db", &db.url, "--json"]).args(args);
    Run::of(cmd).ok(&args.join(" ")).json()
}

/// What a finished `recordport` process said.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// Runs `cmd` to its end. The tests run on a multi-thread runtime; the child process blocks
    /// this worker only.
    pub fn of(mut cmd: std::process::Command) -> Run {
        let out = tokio::task::block_in_place(|| cmd.output()).expect("run recordport");
        Run {
            code: out.status.code().expect("exit code"),
            stdout: String::from_utf8(out.stdout).expect("utf-8 stdout"),
            stderr: String::from_utf8(out.stderr).expect("utf-8 stderr"),
        }
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {}", self.stdout))
    }

    /// The run, which must have succeeded.
    pub fn ok(self, what: &str) -> Run {
        assert_eq!(
            self.code, 0,
            "{what} failed: {} {}",
            self.stdout, self.stderr
        );
        self
    }
}

/// The one number `sql` (a scalar query) answers in `db`.
pub async fn scalar(db: &TestDb, sql: &str) -> i64 {
    let row = db
        .service
        .store()
        .fetch_optional(recordport::store::Sql::new(format!("SELECT ({sql}) AS n")))
        .await
        .expect("query")
        .expect("a row");
    row.int("n").expect("a number")
}
