-- Schema registry store (hookstream registry, and the local catalog when registry.url is empty).
-- Ids are global and stable: one row per distinct schema, keyed by the SHA-256 of its canonical
-- form (sorted keys, compact), because a unique index on the canonical text itself would fail
-- for schemas larger than a btree entry (about 2.7 kB).
CREATE TABLE registry_schemas (
    id          serial PRIMARY KEY,
    schema      text NOT NULL,
    canonical   text NOT NULL,
    fingerprint text NOT NULL UNIQUE
);

-- One row per registered version; soft-deleted rows stay (deleted = true) so version numbers
-- are never reused until a permanent delete.
CREATE TABLE registry_subject_versions (
    subject    text NOT NULL,
    version    integer NOT NULL CHECK (version > 0),
    schema_id  integer NOT NULL REFERENCES registry_schemas (id),
    deleted    boolean NOT NULL DEFAULT false,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (subject, version)
);
CREATE INDEX registry_subject_versions_schema_id ON registry_subject_versions (schema_id);

-- Compatibility level per subject; subject '' holds the global level.
CREATE TABLE registry_config (
    subject       text PRIMARY KEY,
    compatibility text NOT NULL CHECK (compatibility IN ('NONE', 'BACKWARD',
        'BACKWARD_TRANSITIVE', 'FORWARD', 'FORWARD_TRANSITIVE', 'FULL', 'FULL_TRANSITIVE'))
);
