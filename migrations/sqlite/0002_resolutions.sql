-- The resolution register, SQLite flavour. Kept column for column in step
-- with migrations/postgres/0002_resolutions.sql: the store runs the same SQL
-- on both. Dates are ISO 8601 text (YYYY-MM-DD), which sorts and compares as
-- the dates do.

CREATE TABLE resolutions (
    -- AUTOINCREMENT: a resolution id named in `supersedes` is never reused.
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    issuing_organ_id TEXT NOT NULL REFERENCES organs (id),
    locality_code    TEXT NOT NULL REFERENCES localities (code),
    -- The symbol as filed, e.g. 05/NQ-HĐND.
    symbol           TEXT NOT NULL,
    -- What identifies the symbol within its organ and year (5/NQ-HĐND for
    -- 05/NQ-HĐND and 05-NQ/HĐND alike); computed by the domain.
    symbol_key       TEXT NOT NULL,
    adoption_year    INTEGER NOT NULL,
    adoption_date    TEXT NOT NULL,
    effective_date   TEXT NOT NULL CHECK (effective_date >= adoption_date),
    topic            TEXT NOT NULL,
    title            TEXT NOT NULL,
    summary          TEXT NOT NULL,
    full_text        TEXT NOT NULL,
    -- Title and summary, lower-cased NFC, and the same without diacritics,
    -- computed in Rust: SQLite's LOWER() knows only ASCII.
    search_text      TEXT NOT NULL,
    search_folded    TEXT NOT NULL,
    budget_vnd       INTEGER CHECK (budget_vnd IS NULL OR budget_vnd >= 0),
    -- A resolution is replaced at most once.
    supersedes       INTEGER UNIQUE REFERENCES resolutions (id),
    superseded_by    INTEGER REFERENCES resolutions (id),
    status           TEXT NOT NULL,
    -- Decisions so far; a review is a compare-and-set on (status, review_count).
    review_count     INTEGER NOT NULL CHECK (review_count >= 0),
    filed_at         INTEGER NOT NULL,
    filed_by_token   INTEGER NOT NULL REFERENCES tokens (id),
    updated_at       INTEGER NOT NULL,
    UNIQUE (issuing_organ_id, adoption_year, symbol_key)
) STRICT;
CREATE INDEX resolutions_by_locality ON resolutions (locality_code);
CREATE INDEX resolutions_by_adoption_date ON resolutions (adoption_date);
CREATE INDEX resolutions_by_topic ON resolutions (topic);

-- Every decision of the reviewing department; never updated.
CREATE TABLE resolution_reviews (
    resolution_id     INTEGER NOT NULL REFERENCES resolutions (id),
    -- 1 for the first decision on the resolution, then 2, 3.
    sequence          INTEGER NOT NULL CHECK (sequence >= 1),
    verdict           TEXT NOT NULL,
    comment           TEXT NOT NULL,
    reviewer_organ    TEXT NOT NULL REFERENCES organs (id),
    reviewed_by_token INTEGER NOT NULL REFERENCES tokens (id),
    reviewed_at       INTEGER NOT NULL,
    PRIMARY KEY (resolution_id, sequence)
) STRICT, WITHOUT ROWID;
