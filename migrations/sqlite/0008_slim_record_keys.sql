-- The slim key index (issue 14): one B-tree entry per match key, keyed by a small integer for the
-- (module, field) it belongs to instead of ~60 bytes of module id and field slug, and enforcing
-- uniqueness itself instead of through a second, partial index.
--
-- key_spaces numbers each (module, field) that keeps match keys; writers add a space the first
-- time a field needs one.
CREATE TABLE key_spaces (
    id         INTEGER PRIMARY KEY,
    module_id  TEXT NOT NULL,
    field_slug TEXT NOT NULL,
    UNIQUE (module_id, field_slug)
);
INSERT INTO key_spaces (module_id, field_slug)
    SELECT DISTINCT module_id, field_slug FROM record_keys ORDER BY module_id, field_slug;

-- tiebreak is '' for a value of a unique field, so the primary key admits one holder of it, and
-- the record id otherwise, so several records may share the value. There is no index by record:
-- a writer deletes a record's keys by the values it held (it always has the old record).
CREATE TABLE record_keys_slim (
    space     INTEGER NOT NULL,
    key       TEXT NOT NULL,
    tiebreak  TEXT NOT NULL,
    record_id TEXT NOT NULL,
    PRIMARY KEY (space, key, tiebreak)
) WITHOUT ROWID;
INSERT INTO record_keys_slim (space, key, tiebreak, record_id)
    SELECT s.id, k.key, CASE WHEN k.is_unique = 1 THEN '' ELSE k.record_id END, k.record_id
    FROM record_keys k JOIN key_spaces s ON s.module_id = k.module_id AND s.field_slug = k.field_slug;
DROP TABLE record_keys;
ALTER TABLE record_keys_slim RENAME TO record_keys;
