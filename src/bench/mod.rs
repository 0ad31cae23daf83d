//! The benchmark harness's own pieces: a deterministic generator of realistic contact files.

pub mod generate;
