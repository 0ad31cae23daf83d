-- Issue 15, the rest of the Records APIs.
--
-- The account this store holds: spec 002's jobs carry an `accountId`, and spec 000's `account`
-- privacy level means "everyone in it". One store is one account; its id is made once, here.
CREATE TABLE account (
    id         TEXT PRIMARY KEY,
    created_at BIGINT NOT NULL
);
INSERT INTO account (id, created_at)
    VALUES ('acc_' || substr(md5(random()::text || clock_timestamp()::text), 1, 24),
            (extract(epoch FROM clock_timestamp()) * 1000000)::BIGINT);

-- Spec 004's changelog metadata of a change: `reason` given with an update, `source` and `jobId`
-- of a change an import made (NULL when there is none).
ALTER TABLE record_versions ADD COLUMN metadata JSONB;

-- An import runs for the member of the key (or --member) that started it: the records it creates
-- are theirs and it matches only records they may see, also when a worker runs it later.
ALTER TABLE import_jobs ADD COLUMN member_id TEXT;
