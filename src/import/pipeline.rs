//! The CPU half of the import pipeline: source → map/validate, as two threads joined by bounded
//! channels, handing typed chunks to whoever consumes them (the validate report or the writer).
//!
//! ```text
//! reader thread ──(depth chunks)──> mapper thread (rayon pool: rows of a chunk in parallel)
//!               ──(depth chunks)──> consumer (async)
//! ```
//! Memory is bounded by `chunk_rows × (2 × depth + 2)` rows whatever the file size. Rows keep their
//! file order: a chunk is mapped in parallel but collected in order, and chunks travel in order, so
//! the consumer sees exactly the sequence a one-row-at-a-time loop would.

use std::sync::Arc;
use std::sync::mpsc::{Receiver as SyncReceiver, sync_channel};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rayon::prelude::*;
use tokio::sync::mpsc;

use crate::error::{Error, Result};
use crate::import::map::{MappedRow, MappingPlan};
use crate::import::source::{Source, SourceRow};

/// How the pipeline cuts and spreads the work.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PipelineOptions {
    /// Rows per chunk: the unit of mapping, of the writer's decisions and of its checkpoints.
    pub chunk_rows: usize,
    /// Threads that map and validate rows; 0 means one per core.
    pub threads: usize,
    /// Chunks waiting between two stages before the faster one blocks.
    pub channel_depth: usize,
    /// How many chunks the writer puts in one transaction.
    pub commit: CommitPolicy,
}

impl Default for PipelineOptions {
    fn default() -> Self {
        PipelineOptions {
            // Up to (2 × depth + 2) chunks are in flight, and an update batch also holds its
            // matched records and before-images: 1,000 rows import as fast as 2,000 with a fifth
            // less peak memory (a third less for upserts); 500 is slower (BENCHMARKS.md).
            chunk_rows: 1_000,
            threads: 0,
            channel_depth: 4,
            commit: CommitPolicy::default(),
        }
    }
}

/// When the writer commits. Chunks stay small (memory, and the mapping threads' work unit), but
/// a commit per chunk makes SQLite write every index page a chunk touched to the WAL again; with
/// random match keys that is most of `record_keys` each time. Grouping chunks writes each page
/// once per group. The time bound caps how long other writers wait for the lock and how much
/// work a crash takes back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CommitPolicy {
    /// Commit once a transaction holds this many rows (at least one chunk is always written).
    pub rows: usize,
    /// Commit once a transaction has been open this long.
    pub interval: Duration,
}

impl Default for CommitPolicy {
    fn default() -> Self {
        CommitPolicy {
            rows: 20_000,
            interval: Duration::from_millis(1_000),
        }
    }
}

impl CommitPolicy {
    /// Whether a transaction holding `rows` rows, open since `started`, should commit now.
    pub fn is_due(&self, rows: usize, started: Instant) -> bool {
        rows >= self.rows || started.elapsed() >= self.interval
    }
}

/// Rows read at once while skipping to a resumed job's checkpoint.
const SKIP_CHUNK_ROWS: usize = 10_000;

/// A chunk of rows read and mapped, in file order. Cloned by the writer on PostgreSQL, which
/// keeps the chunks of its open transaction to replay them after a conflict.
#[derive(Debug, Clone)]
pub struct MappedChunk {
    pub rows: Vec<MappedRow>,
    /// The original cells of each row that has errors (same index as `rows`; `None` for clean
    /// rows), for the errors CSV. Clean rows drop their cells as soon as they are mapped, unless
    /// the pipeline was started with `keep_all_cells` (a clean row may still fail when it is
    /// written: a unique value taken, a required field empty).
    pub cells: Vec<Option<Vec<String>>>,
}

/// The running pipeline: receive chunks from `chunks`; `Err` in the stream means the source
/// failed and nothing more will come.
pub struct Pipeline {
    pub chunks: mpsc::Receiver<Result<MappedChunk>>,
    reader: Option<JoinHandle<()>>,
    mapper: Option<JoinHandle<()>>,
}

impl Pipeline {
    pub fn start(
        source: Box<dyn Source>,
        plan: Arc<MappingPlan>,
        options: PipelineOptions,
        keep_all_cells: bool,
    ) -> Result<Pipeline> {
        Pipeline::start_after(source, plan, options, keep_all_cells, 0)
    }

    /// Like [`Pipeline::start`], but the first `skip_rows` data rows are read and dropped before
    /// the first chunk: a resumed job goes on after the rows it has committed. Skipped rows are
    /// neither mapped nor handed out, and row numbers stay those of the file.
    pub fn start_after(
        mut source: Box<dyn Source>,
        plan: Arc<MappingPlan>,
        options: PipelineOptions,
        keep_all_cells: bool,
        skip_rows: u64,
    ) -> Result<Pipeline> {
        let depth = options.channel_depth.max(1);
        let chunk_rows = options.chunk_rows.max(1);
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(options.threads)
            .thread_name(|i| format!("recordport-map-{i}"))
            .build()
            .map_err(|e| Error::Validation {
                message: format!("cannot start {} mapping threads: {e}", options.threads),
                fields: Vec::new(),
            })?;
        let (raw_tx, raw_rx) = sync_channel::<Result<Vec<SourceRow>>>(depth);
        let (mapped_tx, mapped_rx) = mpsc::channel::<Result<MappedChunk>>(depth);
        let reader = std::thread::Builder::new()
            .name("recordport-read".into())
            .spawn(move || {
                let mut to_skip = skip_rows;
                while to_skip > 0 {
                    let take = to_skip.min(SKIP_CHUNK_ROWS as u64) as usize;
                    match source.next_chunk(take) {
                        Ok(rows) if rows.is_empty() => return,
                        Ok(rows) => to_skip -= rows.len() as u64,
                        Err(e) => {
                            let _ = raw_tx.send(Err(e));
                            return;
                        }
                    }
                }
                loop {
                    let next = source.next_chunk(chunk_rows);
                    let done = matches!(&next, Ok(rows) if rows.is_empty()) || next.is_err();
                    if done {
                        if let Err(e) = next {
                            let _ = raw_tx.send(Err(e));
                        }
                        return;
                    }
                    if raw_tx.send(next).is_err() {
                        return;
                    }
                }
            })
            .map_err(thread_error)?;
        let mapper = std::thread::Builder::new()
            .name("recordport-map".into())
            .spawn(move || map_chunks(raw_rx, mapped_tx, &plan, &pool, keep_all_cells))
            .map_err(thread_error)?;
        Ok(Pipeline {
            chunks: mapped_rx,
            reader: Some(reader),
            mapper: Some(mapper),
        })
    }
}

impl Drop for Pipeline {
    fn drop(&mut self) {
        // Closing the receiver makes both threads stop at their next send; joining them keeps a
        // cancelled import from leaving threads that still hold the file.
        self.chunks.close();
        while self.chunks.try_recv().is_ok() {}
        for handle in [self.mapper.take(), self.reader.take()]
            .into_iter()
            .flatten()
        {
            let _ = handle.join();
        }
    }
}

fn map_chunks(
    raw: SyncReceiver<Result<Vec<SourceRow>>>,
    mapped: mpsc::Sender<Result<MappedChunk>>,
    plan: &MappingPlan,
    pool: &rayon::ThreadPool,
    keep_all_cells: bool,
) {
    for chunk in raw {
        let out = chunk.map(|rows| {
            let (rows, cells) = pool.install(|| {
                rows.into_par_iter()
                    .map(|row| {
                        let mapped = plan.apply(&row);
                        let keep = keep_all_cells || !mapped.errors.is_empty();
                        let cells = keep.then_some(row.cells);
                        (mapped, cells)
                    })
                    .unzip()
            });
            MappedChunk { rows, cells }
        });
        if mapped.blocking_send(out).is_err() {
            return;
        }
    }
}

fn thread_error(e: std::io::Error) -> Error {
    Error::internal(format!("cannot start a thread of the import pipeline: {e}"))
}
