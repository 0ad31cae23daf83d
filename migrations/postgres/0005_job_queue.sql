-- The job queue (issue 7): import and export jobs are claimed by workers under a lease.
--
-- A worker claims a job by writing its id into worker_id and a lease_expires_at in the future, and
-- keeps the lease alive with heartbeats (heartbeat_at). A job whose lease ran out (the worker died)
-- is claimed again by the next worker. Jobs run in the foreground by the CLI have no lease
-- (lease_expires_at NULL) and are never claimed. Times are microseconds since the Unix epoch.
ALTER TABLE import_jobs ADD COLUMN file_path TEXT;
-- How to open the file again (sheet, encoding, delimiter, size limit), as JSON.
ALTER TABLE import_jobs ADD COLUMN source_options TEXT;
ALTER TABLE import_jobs ADD COLUMN worker_id TEXT;
ALTER TABLE import_jobs ADD COLUMN lease_expires_at BIGINT;
ALTER TABLE import_jobs ADD COLUMN heartbeat_at BIGINT;
ALTER TABLE import_jobs ADD COLUMN attempts BIGINT NOT NULL DEFAULT 0;
-- Set by cancel; the writer reads it in each batch's transaction and stops.
ALTER TABLE import_jobs ADD COLUMN cancel_requested BIGINT NOT NULL DEFAULT 0;
CREATE INDEX import_jobs_queue ON import_jobs (created_at, id) WHERE status IN ('pending', 'processing');

-- The row errors a job reported so far (the first 1,000), appended in each batch's transaction,
-- so that a job resumed after a crash reports the same errors as one that never stopped.
CREATE TABLE import_job_errors (
    job_id  TEXT NOT NULL,
    seq     BIGINT NOT NULL,
    error   TEXT NOT NULL,
    PRIMARY KEY (job_id, seq)
);

ALTER TABLE export_jobs ADD COLUMN worker_id TEXT;
ALTER TABLE export_jobs ADD COLUMN lease_expires_at BIGINT;
ALTER TABLE export_jobs ADD COLUMN heartbeat_at BIGINT;
ALTER TABLE export_jobs ADD COLUMN attempts BIGINT NOT NULL DEFAULT 0;
CREATE INDEX export_jobs_queue ON export_jobs (requested_at, id) WHERE status IN ('pending', 'processing');
