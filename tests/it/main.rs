//! Integration tests through the public surface (library API and CLI), each on SQLite and
//! PostgreSQL.

mod cli;
mod common;
mod records_api;
