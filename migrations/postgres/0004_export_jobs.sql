-- Export jobs (spec 002): large or requested exports run in the background and keep their file in
-- the exports directory until `expires_at`. Times are microseconds since the Unix epoch.
CREATE TABLE export_jobs (
    id                   TEXT PRIMARY KEY,
    module_id            TEXT NOT NULL REFERENCES modules(id),
    format               TEXT NOT NULL,
    status               TEXT NOT NULL,
    -- The request's config as JSON, so that any worker can run the job.
    options              TEXT NOT NULL,
    total_records        BIGINT,
    processed_records    BIGINT NOT NULL DEFAULT 0,
    progress             BIGINT NOT NULL DEFAULT 0,
    file_name            TEXT NOT NULL,
    -- Absolute path of the kept file; NULL until completed and again once expired.
    file_path            TEXT,
    file_size_bytes      BIGINT,
    content_type         TEXT NOT NULL,
    error                TEXT,
    requested_by_user_id TEXT,
    requested_at         BIGINT NOT NULL,
    started_at           BIGINT,
    completed_at         BIGINT,
    expires_at           BIGINT
);
-- The job list, newest first.
CREATE INDEX export_jobs_requested ON export_jobs (requested_at, id);
-- Workers take the oldest pending job.
CREATE INDEX export_jobs_pending ON export_jobs (requested_at) WHERE status = 'pending';
-- The expiry sweep visits only jobs that still keep a file.
CREATE INDEX export_jobs_expiry ON export_jobs (expires_at) WHERE file_path IS NOT NULL;
