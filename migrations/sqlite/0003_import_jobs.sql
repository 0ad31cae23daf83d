-- Import jobs (spec 002): one row per execute, with its options, counters and report.
CREATE TABLE import_jobs (
    id                  TEXT PRIMARY KEY,
    module_id           TEXT NOT NULL REFERENCES modules(id),
    status              TEXT NOT NULL,
    processing_mode     TEXT NOT NULL,
    file_name           TEXT,
    file_type           TEXT,
    options             TEXT NOT NULL,
    total_rows          INTEGER NOT NULL DEFAULT 0,
    processed_rows      INTEGER NOT NULL DEFAULT 0,
    created_rows        INTEGER NOT NULL DEFAULT 0,
    updated_rows        INTEGER NOT NULL DEFAULT 0,
    unchanged_rows      INTEGER NOT NULL DEFAULT 0,
    skipped_rows        INTEGER NOT NULL DEFAULT 0,
    error_rows          INTEGER NOT NULL DEFAULT 0,
    errors              TEXT NOT NULL DEFAULT '[]',
    reference_warnings  TEXT NOT NULL DEFAULT '[]',
    failure             TEXT,
    rollback            TEXT,
    created_at          INTEGER NOT NULL,
    started_at          INTEGER,
    completed_at        INTEGER,
    expires_at          INTEGER NOT NULL,
    created_by_user_id  TEXT,
    created_by_display_name TEXT
);
CREATE INDEX import_jobs_module ON import_jobs (module_id, created_at);

-- What rollback needs, written in the same transaction as the batch it describes: every record
-- the job created (action 'created'), and the state before the job's first change of every record
-- it updated (action 'updated', before = the record's JSON). after_version is the record's version
-- once the job was done with it, so rollback can tell a record someone changed since.
CREATE TABLE import_ledger (
    job_id         TEXT NOT NULL,
    record_id      TEXT NOT NULL,
    action         TEXT NOT NULL,
    module_id      TEXT NOT NULL,
    before         TEXT,
    after_version  INTEGER NOT NULL,
    PRIMARY KEY (job_id, record_id)
) WITHOUT ROWID;
