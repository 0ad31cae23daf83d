//! Per-stage criterion benches of the import and export pipelines (issue 6), through the public
//! library API only, on files from the seeded generator (`recordport::bench::generate`).
//!
//! ```text
//! source/{csv,xlsx,parquet}      read, decode and split every row (20k rows)
//! map_validate/{1_thread,all_threads}   mapping + typed validation of every row, on a rayon pool
//!                                of 1 thread and of one per core, per 2,000-row chunk as the
//!                                pipeline does (the "≥ 1.7× on 2 threads" target)
//! merge/prefer_import            merge_fields of every mapped row into a record's fields
//! dedupe_merge/sqlite            a whole `update` import of a file every row of which matches an
//!                                unchanged record: dedupe lookups, merge, no record writes
//! writer/{sqlite,postgres}       a whole import into a fresh store (the writer dominates);
//!                                PostgreSQL only when RECORDPORT_BENCH_POSTGRES_URL is set
//! export/{csv,parquet,pdf}       a whole export of 20k records into a discarding writer
//! ```
//! Run: `cargo bench --bench stages` (a few minutes), or one group: `cargo bench --bench stages
//! -- source/`.

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use rayon::prelude::*;
use recordport::bench::generate::{GenerateOptions, OutputFormat, write_file};
use recordport::export::{self, ExportFormat, ExportRequest};
use recordport::import::memory;
use recordport::import::merge::merge_fields;
use recordport::import::{
    DuplicateStrategy, ImportRequest, MappingPlan, MergeMode, RunOptions, SourceOptions, SourceRow,
    execute_file, source,
};
use recordport::records::{Actor, RecordService};
use recordport::schema::ModuleDef;
use recordport::schema::value::ValueOptions;
use recordport::store::Store;

// The same allocator as the `recordport` binary, so each stage is measured as the product runs it.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Rows of the files the CPU stages and the exports read.
const ROWS: u64 = 20_000;
/// Rows of the files the database stages import (each iteration imports the whole file).
const WRITER_ROWS: u64 = 5_000;
/// The pipeline's default chunk.
const CHUNK_ROWS: usize = 2_000;
const POSTGRES_URL_VAR: &str = "RECORDPORT_BENCH_POSTGRES_URL";

fn generated(dir: &Path, name: &str, rows: u64, format: OutputFormat) -> PathBuf {
    generated_with(
        dir,
        name,
        format,
        &GenerateOptions {
            rows,
            ..GenerateOptions::default()
        },
    )
}

fn generated_with(
    dir: &Path,
    name: &str,
    format: OutputFormat,
    options: &GenerateOptions,
) -> PathBuf {
    let path = dir.join(format!("{name}.{}", format.extension()));
    write_file(&path, format, options).expect("generate input");
    path
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
}

fn sample_modules() -> Vec<ModuleDef> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("sample-data/modules");
    ["accounts", "contacts", "deals"]
        .iter()
        .map(|name| {
            let path = dir.join(format!("{name}.json"));
            let text = std::fs::read_to_string(&path).expect("sample module");
            ModuleDef::from_json(&text, &path.display().to_string()).expect("module parses")
        })
        .collect()
}

async fn open_store(url: &str) -> RecordService {
    let service = RecordService::new(Store::open(url).await.expect("open store"));
    for def in sample_modules() {
        service.modules().apply(&def).await.expect("apply module");
    }
    service
}

fn sqlite_url(dir: &Path, name: &str) -> String {
    format!("sqlite://{}", dir.join(name).display())
}

/// The import request the CLI makes without `--mapping`: the suggested mapping.
async fn suggested_request(
    service: &RecordService,
    file: &Path,
    strategy: DuplicateStrategy,
) -> ImportRequest {
    let module = service.modules().get("contacts").await.expect("module");
    let suggested =
        memory::suggested_request(service.store(), &module, file, &SourceOptions::default())
            .await
            .expect("suggest");
    ImportRequest {
        duplicate_strategy: strategy,
        duplicate_match_fields: vec!["email".into()],
        merge_mode: MergeMode::PreferImport,
        ..suggested
    }
}

fn read_all(path: &Path) -> (Vec<String>, Vec<SourceRow>) {
    let mut source = source::open(path, &SourceOptions::default()).expect("open source");
    let columns = source.columns().to_vec();
    let mut rows = Vec::new();
    loop {
        let chunk = source.next_chunk(CHUNK_ROWS).expect("chunk");
        if chunk.is_empty() {
            return (columns, rows);
        }
        rows.extend(chunk);
    }
}

fn sources(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let mut group = c.benchmark_group("source");
    group.throughput(Throughput::Elements(ROWS));
    for format in [OutputFormat::Csv, OutputFormat::Xlsx, OutputFormat::Parquet] {
        let path = generated(dir.path(), "contacts", ROWS, format);
        group.bench_function(format.extension(), |b| {
            b.iter(|| {
                let mut source = source::open(&path, &SourceOptions::default()).unwrap();
                let mut rows = 0;
                loop {
                    let chunk = source.next_chunk(CHUNK_ROWS).unwrap();
                    if chunk.is_empty() {
                        break;
                    }
                    rows += chunk.len();
                }
                assert_eq!(rows as u64, ROWS);
                black_box(rows)
            })
        });
    }
    group.finish();
}

fn map_validate_and_merge(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime();
    let path = generated(dir.path(), "contacts", ROWS, OutputFormat::Csv);
    let (service, request) = rt.block_on(async {
        let service = open_store(&sqlite_url(dir.path(), "store.db")).await;
        let request = suggested_request(&service, &path, DuplicateStrategy::Skip).await;
        (service, request)
    });
    let module = rt
        .block_on(service.modules().get("contacts"))
        .expect("module");
    let (columns, rows) = read_all(&path);
    let plan = MappingPlan::new(
        &module,
        &columns,
        &request.column_mapping,
        &request.static_values,
        &ValueOptions::default(),
    )
    .expect("plan");
    let chunks: Vec<&[SourceRow]> = rows.chunks(CHUNK_ROWS).collect();

    let mut group = c.benchmark_group("map_validate");
    group.throughput(Throughput::Elements(ROWS));
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    for (name, threads) in [("1_thread", 1), ("all_threads", cores)] {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .expect("pool");
        group.bench_function(name, |b| {
            b.iter(|| {
                let valid: usize = chunks
                    .iter()
                    .map(|chunk| {
                        pool.install(|| {
                            chunk
                                .par_iter()
                                .map(|row| plan.apply(row))
                                .filter(|mapped| mapped.errors.is_empty())
                                .count()
                        })
                    })
                    .sum();
                black_box(valid)
            })
        });
    }
    group.finish();

    // Merging each mapped row into the record the previous row made: the per-row work of the
    // `update` strategy once the match is found.
    let mapped: Vec<_> = rows.iter().map(|row| plan.apply(row)).collect();
    let written = plan.written_fields();
    let mut group = c.benchmark_group("merge");
    group.throughput(Throughput::Elements(ROWS));
    group.bench_function("prefer_import", |b| {
        b.iter(|| {
            let mut fields = 0;
            for pair in mapped.windows(2) {
                let merged = merge_fields(
                    &pair[0].fields,
                    &pair[1].fields,
                    &written,
                    MergeMode::PreferImport,
                );
                fields += merged.len();
            }
            black_box(fields)
        })
    });
    group.finish();
}

/// Times `iters` imports of `file`, each into a store `fresh` makes (not timed).
fn time_imports<F, Fut>(
    rt: &tokio::runtime::Runtime,
    iters: u64,
    file: &Path,
    strategy: DuplicateStrategy,
    mut fresh: F,
) -> Duration
where
    F: FnMut(u64) -> Fut,
    Fut: std::future::Future<Output = RecordService>,
{
    let mut total = Duration::ZERO;
    for i in 0..iters {
        rt.block_on(async {
            let service = fresh(i).await;
            let request = suggested_request(&service, file, strategy).await;
            let options = RunOptions::new(Actor::new("usr_bench", "Bench"));
            let started = Instant::now();
            let result = execute_file(&service, "contacts", file, &request, &options)
                .await
                .expect("import");
            total += started.elapsed();
            black_box(result.created_rows);
            service.store().close().await;
        });
    }
    total
}

fn writers(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime();
    let file = generated(dir.path(), "contacts", WRITER_ROWS, OutputFormat::Csv);

    let mut group = c.benchmark_group("writer");
    group
        .throughput(Throughput::Elements(WRITER_ROWS))
        .sample_size(10)
        .measurement_time(Duration::from_secs(20));
    group.bench_function("sqlite", |b| {
        b.iter_custom(|iters| {
            let stores = tempfile::tempdir().unwrap();
            time_imports(&rt, iters, &file, DuplicateStrategy::Skip, |i| {
                let url = sqlite_url(stores.path(), &format!("writer-{i}.db"));
                async move { open_store(&url).await }
            })
        })
    });
    if let Ok(base) = std::env::var(POSTGRES_URL_VAR) {
        let schemas = std::cell::RefCell::new(Vec::new());
        group.bench_function("postgres", |b| {
            b.iter_custom(|iters| {
                time_imports(&rt, iters, &file, DuplicateStrategy::Skip, |i| {
                    let schema = format!("bench_writer_{}_{i}_{}", std::process::id(), nanos());
                    schemas.borrow_mut().push(schema.clone());
                    let base = base.clone();
                    async move {
                        pg_statement(&base, &format!("CREATE SCHEMA {schema}")).await;
                        let separator = if base.contains('?') { '&' } else { '?' };
                        open_store(&format!("{base}{separator}options[search_path]={schema}")).await
                    }
                })
            })
        });
        let schemas = schemas.into_inner();
        rt.block_on(async {
            for schema in &schemas {
                pg_statement(&base, &format!("DROP SCHEMA {schema} CASCADE")).await;
            }
        });
    } else {
        eprintln!("writer/postgres skipped: set {POSTGRES_URL_VAR} to a PostgreSQL database URL");
    }
    group.finish();

    // Dedupe and merge against the store: every row of the file matches a record it already
    // holds with the same values, so the import looks every key up, loads and merges every
    // matched record, and writes no record (each row is `unchanged`). The file has no repeated
    // emails: a repeat with other values would update its record on every run.
    let file = generated_with(
        dir.path(),
        "distinct",
        OutputFormat::Csv,
        &GenerateOptions {
            rows: WRITER_ROWS,
            duplicate_rate: 0.0,
            ..GenerateOptions::default()
        },
    );
    let service = rt.block_on(async {
        let service = open_store(&sqlite_url(dir.path(), "dedupe.db")).await;
        let request = suggested_request(&service, &file, DuplicateStrategy::Skip).await;
        let options = RunOptions::new(Actor::new("usr_bench", "Bench"));
        execute_file(&service, "contacts", &file, &request, &options)
            .await
            .expect("first import");
        service
    });
    let request = rt.block_on(suggested_request(
        &service,
        &file,
        DuplicateStrategy::Update,
    ));
    let mut group = c.benchmark_group("dedupe_merge");
    group
        .throughput(Throughput::Elements(WRITER_ROWS))
        .sample_size(10)
        .measurement_time(Duration::from_secs(10));
    group.bench_function("sqlite_update_unchanged", |b| {
        b.iter(|| {
            rt.block_on(async {
                let options = RunOptions::new(Actor::new("usr_bench", "Bench"));
                let result = execute_file(&service, "contacts", &file, &request, &options)
                    .await
                    .expect("update import");
                assert_eq!(result.updated_rows, 0, "the file changes nothing");
                black_box(result.unchanged_rows)
            })
        })
    });
    group.finish();
}

fn nanos() -> u32 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos())
}

async fn pg_statement(url: &str, statement: &str) {
    let pool = sqlx::PgPool::connect(url)
        .await
        .expect("connect to PostgreSQL");
    sqlx::query(sqlx::AssertSqlSafe(statement.to_string()))
        .execute(&pool)
        .await
        .expect("PostgreSQL statement");
    pool.close().await;
}

fn sinks(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime();
    let file = generated(dir.path(), "contacts", ROWS, OutputFormat::Csv);
    let (service, records) = rt.block_on(async {
        let service = open_store(&sqlite_url(dir.path(), "export.db")).await;
        let request = suggested_request(&service, &file, DuplicateStrategy::Skip).await;
        let options = RunOptions::new(Actor::new("usr_bench", "Bench"));
        let result = execute_file(&service, "contacts", &file, &request, &options)
            .await
            .expect("import");
        (service, result.created_rows)
    });
    let mut group = c.benchmark_group("export");
    group
        .throughput(Throughput::Elements(records))
        .sample_size(10);
    for format in [ExportFormat::Csv, ExportFormat::Parquet, ExportFormat::Pdf] {
        let request = ExportRequest::new(format);
        group.bench_function(format.as_str(), |b| {
            b.iter(|| {
                rt.block_on(async {
                    let summary = export::run(
                        service.store(),
                        "contacts",
                        &request,
                        Box::new(std::io::sink()),
                        "bench",
                        |_, _| {},
                    )
                    .await
                    .expect("export");
                    black_box(summary)
                })
            })
        });
    }
    group.finish();
}

criterion_group!(stages, sources, map_validate_and_merge, writers, sinks);
criterion_main!(stages);
