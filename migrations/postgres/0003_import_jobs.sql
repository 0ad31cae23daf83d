-- Import jobs (spec 002): one row per execute, with its options, counters and report.
CREATE TABLE import_jobs (
    id                  TEXT PRIMARY KEY,
    module_id           TEXT NOT NULL REFERENCES modules(id),
    status              TEXT NOT NULL,
    processing_mode     TEXT NOT NULL,
    file_name           TEXT,
    file_type           TEXT,
    options             JSONB NOT NULL,
    total_rows          BIGINT NOT NULL DEFAULT 0,
    processed_rows      BIGINT NOT NULL DEFAULT 0,
    created_rows        BIGINT NOT NULL DEFAULT 0,
    updated_rows        BIGINT NOT NULL DEFAULT 0,
    unchanged_rows      BIGINT NOT NULL DEFAULT 0,
    skipped_rows        BIGINT NOT NULL DEFAULT 0,
    error_rows          BIGINT NOT NULL DEFAULT 0,
    errors              JSONB NOT NULL DEFAULT '[]',
    reference_warnings  JSONB NOT NULL DEFAULT '[]',
    failure             TEXT,
    rollback            TEXT,
    created_at          BIGINT NOT NULL,
    started_at          BIGINT,
    completed_at        BIGINT,
    expires_at          BIGINT NOT NULL,
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
    before         JSONB,
    after_version  BIGINT NOT NULL,
    PRIMARY KEY (job_id, record_id)
);
