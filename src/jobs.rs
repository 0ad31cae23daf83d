//! What import and export jobs share: the statuses of spec 002.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Spec 002's job statuses, for import and export jobs alike.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum JobStatus {
    /// Created, waiting to start.
    Pending,
    Processing,
    Completed,
    /// Could not finish; the job row says why.
    Failed,
    /// Rolled back (imports) or cancelled before the end (exports).
    Cancelled,
}

impl JobStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            JobStatus::Pending => "pending",
            JobStatus::Processing => "processing",
            JobStatus::Completed => "completed",
            JobStatus::Failed => "failed",
            JobStatus::Cancelled => "cancelled",
        }
    }

    /// Reads a status stored in a job table.
    pub(crate) fn parse(text: &str) -> Result<JobStatus> {
        Ok(match text {
            "pending" => JobStatus::Pending,
            "processing" => JobStatus::Processing,
            "completed" => JobStatus::Completed,
            "failed" => JobStatus::Failed,
            "cancelled" => JobStatus::Cancelled,
            other => {
                return Err(Error::validation(format!(
                    "a stored job has an unknown status '{other}'"
                )));
            }
        })
    }
}
