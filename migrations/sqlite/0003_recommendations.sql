-- Recommendations and their clusters, SQLite flavour. Kept column for column
-- in step with migrations/postgres/0003_recommendations.sql. 64-bit hashes
-- (exact keys, LSH band keys) are stored as signed integers with the same bits.

CREATE TABLE clusters (
    id                   INTEGER PRIMARY KEY AUTOINCREMENT,
    status               TEXT NOT NULL,
    -- The member whose text stands for the cluster; set right after the
    -- first member is inserted, so no foreign key.
    representative_id    INTEGER NOT NULL,
    topic                TEXT,
    addressee            TEXT NOT NULL,
    assigned_department  TEXT REFERENCES organs (id),
    answer_text          TEXT,
    answer_organ         TEXT REFERENCES organs (id),
    answer_document      TEXT,
    answer_document_date TEXT,
    answered_at          INTEGER,
    escalation_proposal  TEXT,
    -- Kept in step with the members in the same transaction as every change,
    -- so lists can filter and rank without counting.
    member_count         INTEGER NOT NULL CHECK (member_count >= 0),
    distinct_localities  INTEGER NOT NULL,
    distinct_blocs       INTEGER NOT NULL,
    first_seen           INTEGER NOT NULL,
    last_seen            INTEGER NOT NULL,
    updated_at           INTEGER NOT NULL
) STRICT;
CREATE INDEX clusters_by_activity ON clusters (last_seen, id);

CREATE TABLE recommendations (
    id                        INTEGER PRIMARY KEY AUTOINCREMENT,
    organ_id                  TEXT NOT NULL REFERENCES organs (id),
    bloc                      TEXT NOT NULL,
    locality_code             TEXT NOT NULL,
    text                      TEXT NOT NULL,
    topic                     TEXT,
    addressee                 TEXT NOT NULL,
    source                    TEXT,
    cluster_id                INTEGER NOT NULL REFERENCES clusters (id),
    outcome                   TEXT NOT NULL,
    matched_recommendation_id INTEGER,
    matched_cluster_id        INTEGER,
    -- 0 when nothing matched. Never NULL: sqlx's Any driver types a NULL
    -- double as float4 on PostgreSQL, which then breaks the cached statement.
    match_score               REAL NOT NULL,
    submitted_at              INTEGER NOT NULL,
    norm_version              INTEGER NOT NULL,
    exact_key                 INTEGER NOT NULL,
    -- The dedup engine's analysis as JSON, read back to score candidates.
    analysis                  TEXT NOT NULL
) STRICT;
CREATE INDEX recommendations_by_organ ON recommendations (organ_id, id);
CREATE INDEX recommendations_by_cluster ON recommendations (cluster_id, id);
CREATE INDEX recommendations_by_exact_key ON recommendations (exact_key);

-- The LSH index shared by every server: band key → recommendations.
CREATE TABLE recommendation_bands (
    band_key          INTEGER NOT NULL,
    recommendation_id INTEGER NOT NULL REFERENCES recommendations (id),
    PRIMARY KEY (band_key, recommendation_id)
) STRICT, WITHOUT ROWID;

-- Possible duplicates of a NEEDS_REVIEW recommendation awaiting an officer.
CREATE TABLE recommendation_suggestions (
    recommendation_id           INTEGER NOT NULL REFERENCES recommendations (id),
    rank                        INTEGER NOT NULL,
    suggested_recommendation_id INTEGER NOT NULL REFERENCES recommendations (id),
    suggested_cluster_id        INTEGER NOT NULL REFERENCES clusters (id),
    score                       REAL NOT NULL,
    PRIMARY KEY (recommendation_id, rank)
) STRICT, WITHOUT ROWID;

-- Document frequencies for scoring, updated with every recommendation.
CREATE TABLE dedup_terms (
    term           TEXT NOT NULL PRIMARY KEY,
    document_count INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

CREATE TABLE dedup_corpus (
    id             INTEGER NOT NULL PRIMARY KEY CHECK (id = 1),
    document_count INTEGER NOT NULL
) STRICT;
INSERT INTO dedup_corpus (id, document_count) VALUES (1, 0);

-- Who decided what on a cluster, and when.
CREATE TABLE cluster_decisions (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    cluster_id        INTEGER NOT NULL REFERENCES clusters (id),
    recommendation_id INTEGER REFERENCES recommendations (id),
    action            TEXT NOT NULL,
    actor_organ       TEXT NOT NULL REFERENCES organs (id),
    detail            TEXT NOT NULL,
    decided_at        INTEGER NOT NULL
) STRICT;
CREATE INDEX cluster_decisions_by_cluster ON cluster_decisions (cluster_id, id);
