-- API keys of the HTTP API: only the SHA-256 digest of a key is stored, never the key itself.
-- Times are microseconds since the Unix epoch.
CREATE TABLE api_keys (
    id           TEXT PRIMARY KEY,
    name         TEXT NOT NULL,
    -- Hex SHA-256 of the whole key; a request's key is looked up by its digest.
    key_hash     TEXT NOT NULL UNIQUE,
    -- The first characters of the key, so a listed key can be recognised without being shown.
    key_prefix   TEXT NOT NULL,
    -- Comma-separated scopes, e.g. records:read,imports:write.
    scopes       TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    last_used_at INTEGER,
    revoked_at   INTEGER
);

-- Saved reports (spec 002's POST /reports/{reportId}/export): a named module with a filter, a
-- sort and columns, kept as the export config they stand for.
CREATE TABLE reports (
    id                 TEXT PRIMARY KEY,
    name               TEXT NOT NULL,
    module_id          TEXT NOT NULL REFERENCES modules(id),
    -- The export config (columns, labels, filter, advancedFilter, search, sort) as JSON.
    config             TEXT NOT NULL,
    created_by_user_id TEXT,
    created_at         INTEGER NOT NULL
);
-- The report list, newest first.
CREATE INDEX reports_created ON reports (created_at, id);
