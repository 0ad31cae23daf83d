-- Provenance instead of ledger rows (issue 14): a record carries the import job that created it
-- and the one that last changed it (NULL when no import did), and a version row the job that
-- wrote it. Rollback deletes a job's created records by `created_by_job` (the partial index
-- below, in id order so it pages), and tells one changed since the job by a version row that
-- another writer wrote; the ledger keeps only updated records, with the values the job changed.
ALTER TABLE records ADD COLUMN created_by_job TEXT;
ALTER TABLE records ADD COLUMN updated_by_job TEXT;
ALTER TABLE record_versions ADD COLUMN job_id TEXT;

-- Existing stores: the `created` ledger lines become provenance. The versions such a job wrote
-- (up to the version it left the record at) carry its id, so a rollback after the upgrade tells
-- the job's own later changes from other writers' exactly as the ledger did.
UPDATE records SET created_by_job = l.job_id
    FROM import_ledger l WHERE l.record_id = records.id AND l.action = 'created';
UPDATE record_versions SET job_id = l.job_id
    FROM import_ledger l
    WHERE l.record_id = record_versions.record_id AND l.action = 'created'
      AND record_versions.version <= l.after_version;
-- The job that left a record at its current version changed it last.
UPDATE records SET updated_by_job = l.job_id
    FROM import_ledger l WHERE l.record_id = records.id AND l.after_version = records.version;
DELETE FROM import_ledger WHERE action = 'created';

CREATE INDEX records_created_by_job ON records (created_by_job, id) WHERE created_by_job IS NOT NULL;
