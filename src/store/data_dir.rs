//! Where a store's working files live: uploads waiting between the import steps, export files
//! and the copies queued imports run from. One data directory per database, beside it, so that
//! `serve` and `worker` never scatter folders into whatever directory they were started from.
//!
//! In: the database URL. Out: the default data directory (each command can still be given
//! its own directories). Guarantees: the same URL always gives the same directory; nothing is
//! created here.

use std::path::{Path, PathBuf};
use std::str::FromStr;

use sqlx::postgres::PgConnectOptions;

use crate::error::Result;

/// The folders inside the data directory.
pub const UPLOADS: &str = "uploads";
pub const EXPORTS: &str = "exports";
pub const JOBS: &str = "jobs";

/// The default data directory of the database at `url`:
/// - SQLite `DIR/NAME.db`: `DIR/NAME-data` (for `sqlite://recordport.db`, `recordport-data/`);
/// - PostgreSQL: `$XDG_DATA_HOME/recordport/DATABASE` (else `~/.local/share/recordport/DATABASE`),
///   as a server has no file to stand beside; processes on several machines share files only
///   through a directory they all see, given with `--data-dir` or `RECORDPORT_DATA_DIR`;
/// - an in-memory SQLite database, or no home directory: `recordport-data` here.
pub fn default_data_dir(url: &str) -> Result<PathBuf> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        let options = PgConnectOptions::from_str(url).map_err(|e| crate::Error::DatabaseUrl {
            url: url.to_string(),
            reason: e.to_string(),
        })?;
        let database = options
            .get_database()
            .map(str::to_string)
            .unwrap_or_else(|| options.get_username().to_string());
        let base = std::env::var_os("XDG_DATA_HOME")
            .filter(|dir| !dir.is_empty())
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|home| Path::new(&home).join(".local/share")));
        return Ok(match base {
            Some(base) => base.join("recordport").join(database),
            None => PathBuf::from("recordport-data"),
        });
    }
    let options = super::sqlite_options(url)?;
    let file = options.get_filename();
    let in_memory = file.as_os_str().is_empty() || file.to_string_lossy().starts_with(":memory:");
    if in_memory {
        return Ok(PathBuf::from("recordport-data"));
    }
    let stem = file
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "recordport".to_string());
    Ok(file
        .parent()
        .unwrap_or(Path::new(""))
        .join(format!("{stem}-data")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn beside_the_sqlite_file() {
        assert_eq!(
            default_data_dir("sqlite://recordport.db").unwrap(),
            PathBuf::from("recordport-data")
        );
        assert_eq!(
            default_data_dir("sqlite:///var/lib/crm/main.db").unwrap(),
            PathBuf::from("/var/lib/crm/main-data")
        );
        assert_eq!(
            default_data_dir("data/crm.sqlite").unwrap(),
            PathBuf::from("data/crm-data")
        );
    }

    #[test]
    fn postgres_names_the_database() {
        let dir = default_data_dir("postgres://u@localhost:5432/crm").unwrap();
        assert!(dir.ends_with("recordport/crm"), "{}", dir.display());
    }
}
