//! Child processes of the harness: each step runs as its own process, reaped with `wait4`, so
//! its wall time and peak resident set size are its own and not the sum over every child.
//!
//! In: a `Command`. Out: its exit status and resource use ([`Usage`]).

use std::fs::File;
use std::process::{Command, Stdio};
use std::time::Instant;

use crate::bench::harness::HarnessError;
use crate::error::Result;

/// Where a child's stdin comes from or its stdout goes, when not the log files.
pub(crate) enum Redirect {
    Stdin(File),
    Stdout(File),
}

/// A reaped child: its exit and its own resource use.
pub(crate) struct Usage {
    pub(crate) success: bool,
    pub(crate) status: String,
    pub(crate) wall_seconds: f64,
    pub(crate) peak_rss_bytes: u64,
    pub(crate) user_seconds: f64,
    pub(crate) system_seconds: f64,
}

/// Spawns `command` and reaps it with `wait4`, which returns the child's own resource use (peak
/// RSS included) rather than the sum over all children that `getrusage(RUSAGE_CHILDREN)` gives.
pub(crate) fn run_child(command: &mut Command, program: &str) -> Result<Usage> {
    let started = Instant::now();
    let child = command.spawn().map_err(|source| HarnessError::Spawn {
        program: program.to_string(),
        source,
    })?;
    let pid = child.id() as libc::pid_t;
    let mut status: libc::c_int = 0;
    // SAFETY: an all-zero `rusage` is a valid value of this plain C struct.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    loop {
        // SAFETY: `pid` is our child, not yet reaped (`Child` only reaps in `wait`, which is
        // never called); `status` and `usage` are valid for writes.
        let reaped = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
        if reaped == pid {
            break;
        }
        let error = std::io::Error::last_os_error();
        if error.kind() != std::io::ErrorKind::Interrupted {
            return Err(HarnessError::Spawn {
                program: program.to_string(),
                source: error,
            }
            .into());
        }
    }
    let wall_seconds = started.elapsed().as_secs_f64();
    let (success, status) = if libc::WIFEXITED(status) {
        let code = libc::WEXITSTATUS(status);
        (code == 0, format!("exit status {code}"))
    } else if libc::WIFSIGNALED(status) {
        (
            false,
            format!("killed by signal {}", libc::WTERMSIG(status)),
        )
    } else {
        (false, format!("wait status {status}"))
    };
    let seconds = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    Ok(Usage {
        success,
        status,
        wall_seconds,
        // Linux reports ru_maxrss in KiB.
        peak_rss_bytes: u64::try_from(usage.ru_maxrss).unwrap_or(0) * 1024,
        user_seconds: seconds(usage.ru_utime),
        system_seconds: seconds(usage.ru_stime),
    })
}

pub(crate) fn tool_available(program: &str, args: &[&str]) -> bool {
    Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}
