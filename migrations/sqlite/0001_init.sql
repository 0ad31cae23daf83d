-- Modules: the definition is kept whole as JSON; the slug is the lookup key.
CREATE TABLE modules (
    id          TEXT PRIMARY KEY,
    slug        TEXT NOT NULL UNIQUE,
    name        TEXT NOT NULL,
    definition  TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);

-- Records: one row per record, custom fields as one JSON object. Times are microseconds since the
-- Unix epoch (the same integer type on both dialects, so ordering and filters agree).
CREATE TABLE records (
    id                      TEXT PRIMARY KEY,
    module_id               TEXT NOT NULL REFERENCES modules(id),
    display_name            TEXT NOT NULL,
    fields                  TEXT NOT NULL,
    label_ids               TEXT NOT NULL DEFAULT '[]',
    type_ids                TEXT NOT NULL DEFAULT '[]',
    privacy_level           TEXT NOT NULL DEFAULT 'account',
    description_html        TEXT,
    external_id             TEXT,
    search_text             TEXT NOT NULL DEFAULT '',
    created_at              INTEGER NOT NULL,
    updated_at              INTEGER NOT NULL,
    created_by_user_id      TEXT,
    created_by_display_name TEXT,
    updated_by_user_id      TEXT,
    updated_by_display_name TEXT,
    version                 INTEGER NOT NULL DEFAULT 1,
    deleted_at              INTEGER
);
-- The default list (live records of a module, newest first) walks this index without sorting.
CREATE INDEX records_module_live ON records (module_id, deleted_at, created_at, id);
CREATE INDEX records_trash ON records (deleted_at) WHERE deleted_at IS NOT NULL;
CREATE UNIQUE INDEX records_external_id ON records (module_id, external_id) WHERE external_id IS NOT NULL;

-- Normalised match keys of live records (emails, phones, unique fields): unique checks and the
-- import's duplicate matching look a key up here instead of scanning JSON.
CREATE TABLE record_keys (
    module_id  TEXT NOT NULL,
    field_slug TEXT NOT NULL,
    key        TEXT NOT NULL,
    record_id  TEXT NOT NULL,
    is_unique  INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (module_id, field_slug, key, record_id)
) WITHOUT ROWID;
CREATE UNIQUE INDEX record_keys_unique ON record_keys (module_id, field_slug, key) WHERE is_unique = 1;
CREATE INDEX record_keys_record ON record_keys (record_id);

-- Version history: one row per change after creation, with the changed values (old/new).
CREATE TABLE record_versions (
    record_id         TEXT NOT NULL,
    version           INTEGER NOT NULL,
    action            TEXT NOT NULL,
    changes           TEXT NOT NULL,
    changed_at        INTEGER NOT NULL,
    user_id           TEXT,
    user_display_name TEXT,
    PRIMARY KEY (record_id, version)
) WITHOUT ROWID;
