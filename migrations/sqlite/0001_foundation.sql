-- Foundation schema, SQLite flavour. Kept column for column in step with
-- migrations/postgres/0001_foundation.sql: the store runs the same SQL on both.
-- Timestamps are unix microseconds UTC, flags 0/1, JSON is text. STRICT makes
-- SQLite reject a value of the wrong type instead of storing it silently.

CREATE TABLE localities (
    code        TEXT NOT NULL PRIMARY KEY,
    name        TEXT NOT NULL,
    kind        TEXT NOT NULL,
    -- Empty for a province-level locality, as in the domain.
    parent_code TEXT NOT NULL
) STRICT;

CREATE TABLE organs (
    id            TEXT NOT NULL PRIMARY KEY,
    name          TEXT NOT NULL,
    kind          TEXT NOT NULL,
    bloc          TEXT NOT NULL,
    locality_code TEXT NOT NULL REFERENCES localities (code)
) STRICT;
CREATE INDEX organs_by_locality ON organs (locality_code);
CREATE INDEX organs_by_kind ON organs (kind);

CREATE TABLE tokens (
    -- AUTOINCREMENT: an id named in an audit trail is never reused.
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    token_hash TEXT NOT NULL UNIQUE,
    organ_id   TEXT NOT NULL REFERENCES organs (id),
    -- Comma-separated role names, e.g. SUBMITTER,REVIEWER.
    roles      TEXT NOT NULL,
    label      TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER,
    revoked_at INTEGER
) STRICT;

CREATE TABLE forms (
    code           TEXT NOT NULL PRIMARY KEY,
    draft          TEXT NOT NULL,
    -- 0 until the first publication.
    latest_version INTEGER NOT NULL CHECK (latest_version >= 0),
    created_at     INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL
) STRICT;

CREATE TABLE form_versions (
    form_code    TEXT NOT NULL REFERENCES forms (code),
    version      INTEGER NOT NULL CHECK (version >= 1),
    definition   TEXT NOT NULL,
    -- Copied from the definition so a reviewer's report list filters in SQL.
    owner_organ  TEXT NOT NULL,
    published_at INTEGER NOT NULL,
    PRIMARY KEY (form_code, version)
) STRICT;
CREATE INDEX form_versions_by_owner ON form_versions (owner_organ);

CREATE TABLE reports (
    id                 INTEGER PRIMARY KEY AUTOINCREMENT,
    organ_id           TEXT NOT NULL REFERENCES organs (id),
    locality_code      TEXT NOT NULL REFERENCES localities (code),
    form_code          TEXT NOT NULL REFERENCES forms (code),
    period             TEXT NOT NULL,
    status             TEXT NOT NULL,
    latest_revision    INTEGER NOT NULL CHECK (latest_revision >= 1),
    late               INTEGER NOT NULL CHECK (late IN (0, 1)),
    deadline           INTEGER NOT NULL,
    first_submitted_at INTEGER NOT NULL,
    updated_at         INTEGER NOT NULL,
    reviewer_organ     TEXT REFERENCES organs (id),
    review_comment     TEXT,
    reviewed_at        INTEGER,
    -- One report per organ, form and period; later changes are revisions.
    UNIQUE (organ_id, form_code, period)
) STRICT;
CREATE INDEX reports_by_form_period ON reports (form_code, period);
CREATE INDEX reports_by_locality ON reports (locality_code);

CREATE TABLE report_revisions (
    report_id          INTEGER NOT NULL REFERENCES reports (id),
    revision           INTEGER NOT NULL CHECK (revision >= 1),
    form_version       INTEGER NOT NULL,
    narrative          TEXT NOT NULL,
    amendment_reason   TEXT NOT NULL,
    submitted_at       INTEGER NOT NULL,
    late               INTEGER NOT NULL CHECK (late IN (0, 1)),
    submitted_by_token INTEGER NOT NULL REFERENCES tokens (id),
    PRIMARY KEY (report_id, revision)
) STRICT, WITHOUT ROWID;

-- One row per value, so city-wide roll-ups can run in SQL.
CREATE TABLE report_values (
    report_id      INTEGER NOT NULL,
    revision       INTEGER NOT NULL,
    -- Order of the value within its revision (the form's indicator order).
    position       INTEGER NOT NULL,
    indicator_code TEXT NOT NULL,
    -- INTEGER, MONEY_VND, and BOOLEAN as 0/1.
    int_value      INTEGER,
    -- DECIMAL and PERCENT, exactly as given (scale kept).
    decimal_value  TEXT,
    -- Every numeric value as a float, for aggregation.
    numeric_value  REAL,
    text_value     TEXT,
    value_kind     TEXT NOT NULL CHECK (
        (value_kind IN ('INTEGER', 'MONEY_VND', 'BOOLEAN') AND int_value IS NOT NULL)
        OR (value_kind = 'DECIMAL' AND decimal_value IS NOT NULL)
        OR (value_kind = 'TEXT' AND text_value IS NOT NULL)
    ),
    PRIMARY KEY (report_id, revision, indicator_code),
    FOREIGN KEY (report_id, revision) REFERENCES report_revisions (report_id, revision)
) STRICT, WITHOUT ROWID;

CREATE TABLE idempotency_keys (
    scope       TEXT NOT NULL,
    request_id  TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    -- Resource name the request produced, e.g. reports/7/revisions/2.
    resource    TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    PRIMARY KEY (scope, request_id)
) STRICT, WITHOUT ROWID;
