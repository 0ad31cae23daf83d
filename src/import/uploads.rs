//! Uploaded files kept between the steps of spec 002 (parse, suggest-mapping, validate,
//! execute): each upload lives under its own file id, with its original name, so the later
//! steps and the import job see the same file name and type.
//!
//! In: a client's file name ([`Uploads::reserve`]), a file id ([`Uploads::path`]). Out: paths in
//! the uploads directory. Guarantees: a file id names exactly one directory of the uploads
//! directory (ids are checked, so no id reaches outside it, and a malformed one is the caller's
//! error); a name too long for the file system is stored as `upload.EXT` and still shown as
//! given ([`Uploads::display_name`]); uploads older than the retention are deleted whenever a
//! new one is reserved.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::import::source::SourceOptions;
use crate::store::new_id;

/// Uploads are kept this long (spec 002's import jobs expire after 7 days; an upload is only
/// needed until its import runs, so one day is plenty).
pub const UPLOAD_RETENTION: Duration = Duration::from_secs(24 * 3600);
const ID_PREFIX: &str = "upl_";
/// Beside the file in its directory; uploaded names never start with a dot
/// ([`safe_file_name`]), so it cannot be taken for the file.
const READ_OPTIONS_FILE: &str = ".read-options.json";
/// Beside the file when its name was too long to store: the name to show.
const DISPLAY_NAME_FILE: &str = ".file-name";
/// Names longer than this are shown as given but stored as `upload.EXT`: file systems refuse
/// names over 255 bytes, and the directory adds its own.
const MAX_STORED_NAME_BYTES: usize = 120;
/// The most of a client's file name kept to show.
const MAX_DISPLAY_NAME_BYTES: usize = 1024;
/// File ids are `upl_` and a UUID; anything much longer is not one (and would make a path the
/// file system refuses).
const MAX_FILE_ID_BYTES: usize = 64;

/// How an upload is read, as its parse step was told, so the later steps read it the same way.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReadOptions {
    /// The sheet of a workbook (default: the first).
    pub sheet: Option<String>,
    /// A WHATWG encoding label for text files (default: detected).
    pub encoding: Option<String>,
    /// The delimiter of a CSV file (default: detected).
    pub delimiter: Option<char>,
}

impl ReadOptions {
    /// `base` (limits) with these choices.
    pub fn apply(&self, base: SourceOptions) -> SourceOptions {
        SourceOptions {
            sheet: self.sheet.clone(),
            encoding: self.encoding.clone(),
            delimiter: self.delimiter,
            ..base
        }
    }
}

#[derive(Debug, Clone)]
pub struct Uploads {
    dir: PathBuf,
}

impl Uploads {
    pub fn new(dir: impl Into<PathBuf>) -> Uploads {
        Uploads { dir: dir.into() }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// A new file id and the path to write the upload to (its directory is created).
    pub fn reserve(&self, file_name: &str) -> Result<(String, PathBuf)> {
        self.sweep(SystemTime::now())?;
        let id = new_id(ID_PREFIX.trim_end_matches('_'));
        let dir = self.dir.join(&id);
        std::fs::create_dir_all(&dir).map_err(|source| io(&dir, source))?;
        let name = safe_file_name(file_name);
        if name.len() <= MAX_STORED_NAME_BYTES {
            return Ok((id, dir.join(name)));
        }
        let shown = dir.join(DISPLAY_NAME_FILE);
        std::fs::write(&shown, truncate(&name, MAX_DISPLAY_NAME_BYTES))
            .map_err(|source| io(&shown, source))?;
        Ok((id, dir.join(stored_name(&name))))
    }

    /// The name the upload is shown under: the client's name, even where it was too long to
    /// store.
    pub fn display_name(&self, file_id: &str) -> Result<String> {
        let path = self.path(file_id)?;
        match std::fs::read_to_string(path.with_file_name(DISPLAY_NAME_FILE)) {
            Ok(name) => Ok(name),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                Ok(crate::import::source::file_name(&path))
            }
            Err(source) => Err(io(&path, source)),
        }
    }

    /// The file kept under `file_id`.
    pub fn path(&self, file_id: &str) -> Result<PathBuf> {
        let valid = file_id.len() <= MAX_FILE_ID_BYTES
            && file_id.strip_prefix(ID_PREFIX).is_some_and(|rest| {
                !rest.is_empty() && rest.chars().all(|c| c.is_ascii_hexdigit() || c == '-')
            });
        if !valid {
            return Err(Error::invalid_field(
                "fileId",
                "is not a file id returned by the parse step",
                Some(serde_json::Value::String(truncate(file_id, 80).to_string())),
            ));
        }
        let dir = self.dir.join(file_id);
        let mut entries = match std::fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(Error::not_found("uploaded file", file_id));
            }
            Err(source) => return Err(io(&dir, source)),
        };
        loop {
            match entries.next() {
                Some(entry) => {
                    let entry = entry.map_err(|source| io(&dir, source))?;
                    // Uploaded names never start with a dot: dot files are the upload's notes.
                    if !entry.file_name().to_string_lossy().starts_with('.') {
                        return Ok(entry.path());
                    }
                }
                None => return Err(Error::not_found("uploaded file", file_id)),
            }
        }
    }

    /// Keeps how the upload is to be read (see [`ReadOptions`]).
    pub fn save_read_options(&self, file_id: &str, options: &ReadOptions) -> Result<()> {
        let path = self.path(file_id)?.with_file_name(READ_OPTIONS_FILE);
        let text = serde_json::to_string(options)
            .map_err(|e| Error::internal(format!("read options as JSON: {e}")))?;
        std::fs::write(&path, text).map_err(|source| io(&path, source))
    }

    /// How the upload is to be read: what its parse step saved, else the defaults.
    pub fn read_options(&self, file_id: &str) -> Result<ReadOptions> {
        let path = self.path(file_id)?.with_file_name(READ_OPTIONS_FILE);
        match std::fs::read_to_string(&path) {
            Ok(text) => serde_json::from_str(&text)
                .map_err(|e| Error::corrupt(format!("stored read options of an upload: {e}"))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(ReadOptions::default()),
            Err(source) => Err(io(&path, source)),
        }
    }

    /// Deletes an upload (after a failed upload, or when it is no longer needed).
    pub fn remove(&self, file_id: &str) -> Result<()> {
        let dir = self.dir.join(file_id);
        match std::fs::remove_dir_all(&dir) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(source) => Err(io(&dir, source)),
        }
    }

    /// Deletes uploads last changed before `now - UPLOAD_RETENTION`; returns how many.
    pub fn sweep(&self, now: SystemTime) -> Result<u64> {
        let entries = match std::fs::read_dir(&self.dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
            Err(source) => return Err(io(&self.dir, source)),
        };
        let mut removed = 0;
        for entry in entries {
            let entry = entry.map_err(|source| io(&self.dir, source))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if !name.starts_with(ID_PREFIX) {
                continue;
            }
            let modified = entry
                .metadata()
                .and_then(|m| m.modified())
                .map_err(|source| io(&entry.path(), source))?;
            if now.duration_since(modified).unwrap_or_default() > UPLOAD_RETENTION {
                self.remove(&name)?;
                removed += 1;
            }
        }
        Ok(removed)
    }
}

/// The last component of a client's file name, with anything but letters, digits, `.`, `-`,
/// `_` and spaces replaced, so it is a plain name inside the upload's directory.
pub fn safe_file_name(name: &str) -> String {
    let last = name.rsplit(['/', '\\']).next().unwrap_or_default();
    let cleaned: String = last
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || matches!(c, '.' | '-' | '_' | ' ') {
                c
            } else {
                '_'
            }
        })
        .collect();
    let cleaned = cleaned.trim().trim_start_matches('.').to_string();
    if cleaned.is_empty() {
        "upload".to_string()
    } else {
        cleaned
    }
}

/// `upload.EXT`, keeping a short plain extension (it tells the format).
fn stored_name(name: &str) -> String {
    match Path::new(name).extension().and_then(|e| e.to_str()) {
        Some(ext) if ext.len() <= 10 && ext.chars().all(|c| c.is_ascii_alphanumeric()) => {
            format!("upload.{}", ext.to_ascii_lowercase())
        }
        _ => "upload".to_string(),
    }
}

/// At most `max` bytes of `text`, cut at a character boundary.
fn truncate(text: &str, max: usize) -> &str {
    let mut end = text.len().min(max);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

fn io(path: &Path, source: std::io::Error) -> Error {
    Error::Io {
        path: path.display().to_string(),
        source,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_stay_inside_the_upload() {
        assert_eq!(safe_file_name("contacts.csv"), "contacts.csv");
        assert_eq!(safe_file_name("../../etc/passwd"), "passwd");
        assert_eq!(
            safe_file_name("C:\\Users\\me\\Leads 2024.xlsx"),
            "Leads 2024.xlsx"
        );
        assert_eq!(safe_file_name(".."), "upload");
        assert_eq!(safe_file_name("a;b|c.csv"), "a_b_c.csv");
    }

    #[test]
    fn reserve_find_sweep() {
        let dir = tempfile::tempdir().unwrap();
        let uploads = Uploads::new(dir.path().join("uploads"));
        let (id, path) = uploads.reserve("x/contacts.csv").unwrap();
        std::fs::write(&path, "a\n1\n").unwrap();
        assert_eq!(uploads.path(&id).unwrap(), path);
        assert!(path.ends_with("contacts.csv"));
        assert_eq!(uploads.read_options(&id).unwrap(), ReadOptions::default());
        let options = ReadOptions {
            sheet: Some("Leads".into()),
            encoding: None,
            delimiter: Some(';'),
        };
        uploads.save_read_options(&id, &options).unwrap();
        assert_eq!(uploads.read_options(&id).unwrap(), options);
        // The options file is never taken for the upload.
        assert_eq!(uploads.path(&id).unwrap(), path);
        assert!(matches!(
            uploads.path("upl_../../x"),
            Err(Error::Validation { .. })
        ));
        assert!(matches!(
            uploads.path("upl_0000"),
            Err(Error::NotFound { .. })
        ));
        assert_eq!(uploads.sweep(SystemTime::now()).unwrap(), 0);
        let later = SystemTime::now() + UPLOAD_RETENTION + Duration::from_secs(60);
        assert_eq!(uploads.sweep(later).unwrap(), 1);
        assert!(matches!(uploads.path(&id), Err(Error::NotFound { .. })));
    }
}
