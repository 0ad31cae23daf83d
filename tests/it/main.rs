//! Integration tests through the public surface (library API and CLI), each on SQLite and
//! PostgreSQL.

mod bench_harness;
mod cli;
mod common;
mod export;
mod export_cli;
mod export_roundtrip;
mod import_cli;
mod import_execute;
mod import_formats;
mod import_parse;
mod import_props;
mod import_sources;
mod import_suggest;
mod records_api;
