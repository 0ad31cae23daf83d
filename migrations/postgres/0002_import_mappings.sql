-- Column mappings confirmed by earlier imports, per module and normalised header: the strongest
-- evidence for the next mapping suggestion.
CREATE TABLE import_mappings (
    module_id         TEXT NOT NULL,
    header            TEXT NOT NULL,
    source_column     TEXT NOT NULL,
    target_field_slug TEXT,
    value_type        TEXT,
    address_part      TEXT,
    updated_at        BIGINT NOT NULL,
    PRIMARY KEY (module_id, header)
);
