-- An undo that survives crashes (issue 17): a job that failed or was cancelled keeps status
-- 'processing' while the ledger of what it wrote is being undone, with the status it ends in
-- ('failed' or 'cancelled') here. Such a job is claimed like any processing job whose lease ran
-- out, and the worker that claims it finishes the undo from what is left in the ledger. NULL
-- when no undo is pending.
ALTER TABLE import_jobs ADD COLUMN undo_pending TEXT;
