//! Integration tests through the public surface (library API and CLI), each on SQLite and
//! PostgreSQL.

mod bench_harness;
mod cli;
mod common;
mod export;
mod export_cli;
mod export_roundtrip;
mod http_exports;
mod http_imports;
mod http_records;
mod http_service;
mod http_support;
mod import_cli;
mod import_codes;
mod import_concurrent;
mod import_execute;
mod import_formats;
mod import_parse;
mod import_props;
mod import_sources;
mod import_suggest;
mod records_api;
mod store;
mod store_upgrade;
mod worker;
