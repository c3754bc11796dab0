-- Foundation schema, PostgreSQL flavour. Kept column for column in step with
-- migrations/sqlite/0001_foundation.sql: the store runs the same SQL on both.
-- Timestamps are unix microseconds UTC, flags 0/1, JSON is text (types that
-- pass through sqlx's Any driver on both backends). Text keys use the "C"
-- collation so they sort by bytes, as on SQLite and in Rust, whatever the
-- database's locale: keyset paging and "code order" mean the same everywhere.

CREATE TABLE localities (
    code        TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    name        TEXT NOT NULL,
    kind        TEXT NOT NULL,
    -- Empty for a province-level locality, as in the domain.
    parent_code TEXT COLLATE "C" NOT NULL
);

CREATE TABLE organs (
    id            TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    name          TEXT NOT NULL,
    kind          TEXT NOT NULL,
    bloc          TEXT NOT NULL,
    locality_code TEXT COLLATE "C" NOT NULL REFERENCES localities (code)
);
CREATE INDEX organs_by_locality ON organs (locality_code);
CREATE INDEX organs_by_kind ON organs (kind);

CREATE TABLE tokens (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    token_hash TEXT NOT NULL UNIQUE,
    organ_id   TEXT COLLATE "C" NOT NULL REFERENCES organs (id),
    -- Comma-separated role names, e.g. SUBMITTER,REVIEWER.
    roles      TEXT NOT NULL,
    label      TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT,
    revoked_at BIGINT
);

CREATE TABLE forms (
    code           TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    draft          TEXT NOT NULL,
    -- 0 until the first publication.
    latest_version BIGINT NOT NULL CHECK (latest_version >= 0),
    created_at     BIGINT NOT NULL,
    updated_at     BIGINT NOT NULL
);

CREATE TABLE form_versions (
    form_code    TEXT COLLATE "C" NOT NULL REFERENCES forms (code),
    version      BIGINT NOT NULL CHECK (version >= 1),
    definition   TEXT NOT NULL,
    -- Copied from the definition so a reviewer's report list filters in SQL.
    owner_organ  TEXT COLLATE "C" NOT NULL,
    published_at BIGINT NOT NULL,
    PRIMARY KEY (form_code, version)
);
CREATE INDEX form_versions_by_owner ON form_versions (owner_organ);

CREATE TABLE reports (
    id                 BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    organ_id           TEXT COLLATE "C" NOT NULL REFERENCES organs (id),
    locality_code      TEXT COLLATE "C" NOT NULL REFERENCES localities (code),
    form_code          TEXT COLLATE "C" NOT NULL REFERENCES forms (code),
    period             TEXT COLLATE "C" NOT NULL,
    status             TEXT NOT NULL,
    latest_revision    BIGINT NOT NULL CHECK (latest_revision >= 1),
    late               BIGINT NOT NULL CHECK (late IN (0, 1)),
    deadline           BIGINT NOT NULL,
    first_submitted_at BIGINT NOT NULL,
    updated_at         BIGINT NOT NULL,
    reviewer_organ     TEXT COLLATE "C" REFERENCES organs (id),
    review_comment     TEXT,
    reviewed_at        BIGINT,
    -- One report per organ, form and period; later changes are revisions.
    UNIQUE (organ_id, form_code, period)
);
CREATE INDEX reports_by_form_period ON reports (form_code, period);
CREATE INDEX reports_by_locality ON reports (locality_code);

CREATE TABLE report_revisions (
    report_id          BIGINT NOT NULL REFERENCES reports (id),
    revision           BIGINT NOT NULL CHECK (revision >= 1),
    form_version       BIGINT NOT NULL,
    narrative          TEXT NOT NULL,
    amendment_reason   TEXT NOT NULL,
    submitted_at       BIGINT NOT NULL,
    late               BIGINT NOT NULL CHECK (late IN (0, 1)),
    submitted_by_token BIGINT NOT NULL REFERENCES tokens (id),
    PRIMARY KEY (report_id, revision)
);

-- One row per value, so city-wide roll-ups can run in SQL.
CREATE TABLE report_values (
    report_id      BIGINT NOT NULL,
    revision       BIGINT NOT NULL,
    -- Order of the value within its revision (the form's indicator order).
    position       BIGINT NOT NULL,
    indicator_code TEXT COLLATE "C" NOT NULL,
    -- INTEGER, MONEY_VND, and BOOLEAN as 0/1.
    int_value      BIGINT,
    -- DECIMAL and PERCENT, exactly as given (scale kept).
    decimal_value  TEXT,
    -- Every numeric value as a float, for aggregation.
    numeric_value  DOUBLE PRECISION,
    text_value     TEXT,
    value_kind     TEXT NOT NULL CHECK (
        (value_kind IN ('INTEGER', 'MONEY_VND', 'BOOLEAN') AND int_value IS NOT NULL)
        OR (value_kind = 'DECIMAL' AND decimal_value IS NOT NULL)
        OR (value_kind = 'TEXT' AND text_value IS NOT NULL)
    ),
    PRIMARY KEY (report_id, revision, indicator_code),
    FOREIGN KEY (report_id, revision) REFERENCES report_revisions (report_id, revision)
);

CREATE TABLE idempotency_keys (
    scope       TEXT NOT NULL,
    request_id  TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    -- Resource name the request produced, e.g. reports/7/revisions/2.
    resource    TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (scope, request_id)
);
