//! The benchmark harness's own pieces: a deterministic generator of realistic contact files
//! ([`generate`]: CSV, XLSX, Parquet) and the end-to-end runner that times our steps and the
//! alternatives as child processes ([`harness`]).

pub mod generate;
pub mod harness;
mod process;
pub mod report;
