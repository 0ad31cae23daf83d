//! Progress of a foreground import, told truthfully: a bar on a terminal (phase, rows, a
//! whole-number rate, time left) and, with `--log-json`, one `progress` event per fixed interval
//! for log collectors (phase, rows, total, rows/s, seconds left).
//!
//! In: the import's [`Progress`] callbacks. Out: the bar on stderr and tracing events with the
//! target [`PROGRESS_TARGET`]. The events come from a timer, so they keep their interval however
//! long a batch takes; a last event says where the run ended.

use std::io::IsTerminal;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::import::report::ProgressFn;
use crate::import::{Counters, Phase, Progress};

/// The tracing target of progress events (let through at info by `--log-json`).
pub const PROGRESS_TARGET: &str = "recordport::progress";

/// What the reporter last heard, and when the run started.
struct Seen {
    progress: Option<Progress>,
    started: Instant,
}

/// Rows per second over the run so far, as a whole number.
pub fn whole_rate(rows: u64, elapsed: Duration) -> u64 {
    let seconds = elapsed.as_secs_f64();
    if seconds <= 0.0 {
        return 0;
    }
    (rows as f64 / seconds).round() as u64
}

/// Seconds left at the rate so far (None before anything has been processed).
fn eta_seconds(progress: &Progress, elapsed: Duration) -> Option<u64> {
    let done = progress.counters.processed_rows;
    if done == 0 || progress.phase != Phase::Importing {
        return None;
    }
    let left = progress.total_rows.saturating_sub(done) as f64;
    Some((left * elapsed.as_secs_f64() / done as f64).round() as u64)
}

fn emit(progress: &Progress, elapsed: Duration) {
    let rows = progress.counters.processed_rows;
    tracing::info!(
        target: PROGRESS_TARGET,
        phase = progress.phase.as_str(),
        rows,
        total_rows = progress.total_rows,
        rows_per_second = whole_rate(rows, elapsed),
        eta_seconds = eta_seconds(progress, elapsed),
        "progress"
    );
}

/// The bar and the event timer of one run; [`ProgressReporter::finish`] ends both.
pub struct ProgressReporter {
    seen: Arc<Mutex<Seen>>,
    bar: Option<indicatif::ProgressBar>,
    ticker: Option<tokio::task::JoinHandle<()>>,
}

impl ProgressReporter {
    /// A bar when stderr is a terminal; events every `interval` when `events` is set.
    pub fn start(events: bool, interval: Duration) -> ProgressReporter {
        // The import first reads the whole file to check and count it; its first callback comes
        // after the first commit.
        let counting = Progress {
            total_rows: 0,
            counters: Counters::default(),
            phase: Phase::Counting,
        };
        let seen = Arc::new(Mutex::new(Seen {
            progress: Some(counting),
            started: Instant::now(),
        }));
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = progress_bar();
            bar.set_message(Phase::Counting.as_str());
            bar
        });
        let ticker = events.then(|| {
            let seen = Arc::clone(&seen);
            tokio::spawn(async move {
                let mut ticks = tokio::time::interval(interval);
                ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                loop {
                    ticks.tick().await;
                    let (progress, elapsed) = {
                        let seen = seen.lock().unwrap_or_else(|e| e.into_inner());
                        (seen.progress, seen.started.elapsed())
                    };
                    if let Some(progress) = progress {
                        emit(&progress, elapsed);
                    }
                }
            })
        });
        ProgressReporter { seen, bar, ticker }
    }

    /// The callback to hand the import.
    pub fn callback(&self) -> ProgressFn {
        let seen = Arc::clone(&self.seen);
        let bar = self.bar.clone();
        Arc::new(move |p: &Progress| {
            let mut seen = seen.lock().unwrap_or_else(|e| e.into_inner());
            // The rate counts from the first row imported, not from the start of counting.
            if p.phase == Phase::Importing
                && seen
                    .progress
                    .is_none_or(|last| last.phase == Phase::Counting)
            {
                seen.started = Instant::now();
                if let Some(bar) = &bar {
                    bar.reset_elapsed();
                    bar.reset_eta();
                }
            }
            seen.progress = Some(*p);
            if let Some(bar) = &bar {
                bar.set_message(p.phase.as_str());
                bar.set_length(p.total_rows);
                bar.set_position(p.counters.processed_rows);
            }
        })
    }

    /// Clears the bar and stops the timer after one last event.
    pub fn finish(self) {
        if let Some(bar) = self.bar {
            bar.finish_and_clear();
        }
        if let Some(ticker) = self.ticker {
            ticker.abort();
            let seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(progress) = seen.progress {
                emit(&progress, seen.started.elapsed());
            }
        }
    }
}

fn progress_bar() -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::new(0);
    if let Ok(style) = indicatif::ProgressStyle::with_template(
        "{spinner} {msg:9} [{elapsed_precise}] {wide_bar} {pos}/{len} rows ({rate}, {eta} left)",
    ) {
        bar.set_style(style.with_key(
            "rate",
            |state: &indicatif::ProgressState, w: &mut dyn std::fmt::Write| {
                let _ = write!(w, "{} rows/s", whole_rate(state.pos(), state.elapsed()));
            },
        ));
    }
    bar
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rate_is_a_whole_number() {
        assert_eq!(whole_rate(129_273, Duration::from_millis(10_000)), 12_927);
        assert_eq!(whole_rate(5, Duration::ZERO), 0);
    }
}
