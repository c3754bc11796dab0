-- The resolution register, PostgreSQL flavour. Kept column for column in
-- step with migrations/sqlite/0002_resolutions.sql: the store runs the same
-- SQL on both. Dates are ISO 8601 text (YYYY-MM-DD), which sorts and compares
-- as the dates do; text keys and dates use the "C" collation so they compare
-- by bytes, as on SQLite.

CREATE TABLE resolutions (
    id               BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    issuing_organ_id TEXT COLLATE "C" NOT NULL REFERENCES organs (id),
    locality_code    TEXT COLLATE "C" NOT NULL REFERENCES localities (code),
    -- The symbol as filed, e.g. 05/NQ-HĐND.
    symbol           TEXT NOT NULL,
    -- What identifies the symbol within its organ and year (5/NQ-HĐND for
    -- 05/NQ-HĐND and 05-NQ/HĐND alike); computed by the domain.
    symbol_key       TEXT COLLATE "C" NOT NULL,
    adoption_year    BIGINT NOT NULL,
    adoption_date    TEXT COLLATE "C" NOT NULL,
    effective_date   TEXT COLLATE "C" NOT NULL CHECK (effective_date >= adoption_date),
    topic            TEXT COLLATE "C" NOT NULL,
    title            TEXT NOT NULL,
    summary          TEXT NOT NULL,
    full_text        TEXT NOT NULL,
    -- Title and summary, lower-cased NFC, and the same without diacritics,
    -- computed in Rust so both backends match the same way.
    search_text      TEXT NOT NULL,
    search_folded    TEXT NOT NULL,
    budget_vnd       BIGINT CHECK (budget_vnd IS NULL OR budget_vnd >= 0),
    -- A resolution is replaced at most once.
    supersedes       BIGINT UNIQUE REFERENCES resolutions (id),
    superseded_by    BIGINT REFERENCES resolutions (id),
    status           TEXT NOT NULL,
    -- Decisions so far; a review is a compare-and-set on (status, review_count).
    review_count     BIGINT NOT NULL CHECK (review_count >= 0),
    filed_at         BIGINT NOT NULL,
    filed_by_token   BIGINT NOT NULL REFERENCES tokens (id),
    updated_at       BIGINT NOT NULL,
    UNIQUE (issuing_organ_id, adoption_year, symbol_key)
);
CREATE INDEX resolutions_by_locality ON resolutions (locality_code);
CREATE INDEX resolutions_by_adoption_date ON resolutions (adoption_date);
CREATE INDEX resolutions_by_topic ON resolutions (topic);

-- Every decision of the reviewing department; never updated.
CREATE TABLE resolution_reviews (
    resolution_id     BIGINT NOT NULL REFERENCES resolutions (id),
    -- 1 for the first decision on the resolution, then 2, 3.
    sequence          BIGINT NOT NULL CHECK (sequence >= 1),
    verdict           TEXT NOT NULL,
    comment           TEXT NOT NULL,
    reviewer_organ    TEXT COLLATE "C" NOT NULL REFERENCES organs (id),
    reviewed_by_token BIGINT NOT NULL REFERENCES tokens (id),
    reviewed_at       BIGINT NOT NULL,
    PRIMARY KEY (resolution_id, sequence)
);
