-- Recommendations and their clusters, PostgreSQL flavour. Kept column for
-- column in step with migrations/sqlite/0003_recommendations.sql. 64-bit hashes
-- (exact keys, LSH band keys) are stored as signed integers with the same bits.

CREATE TABLE clusters (
    id                   BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    status               TEXT NOT NULL,
    -- The member whose text stands for the cluster; set right after the
    -- first member is inserted, so no foreign key.
    representative_id    BIGINT NOT NULL,
    topic                TEXT,
    addressee            TEXT NOT NULL,
    assigned_department  TEXT COLLATE "C" REFERENCES organs (id),
    answer_text          TEXT,
    answer_organ         TEXT COLLATE "C" REFERENCES organs (id),
    answer_document      TEXT,
    answer_document_date TEXT,
    answered_at          BIGINT,
    escalation_proposal  TEXT,
    -- Kept in step with the members in the same transaction as every change,
    -- so lists can filter and rank without counting.
    member_count         BIGINT NOT NULL CHECK (member_count >= 0),
    distinct_localities  BIGINT NOT NULL,
    distinct_blocs       BIGINT NOT NULL,
    first_seen           BIGINT NOT NULL,
    last_seen            BIGINT NOT NULL,
    updated_at           BIGINT NOT NULL
);
CREATE INDEX clusters_by_activity ON clusters (last_seen, id);

CREATE TABLE recommendations (
    id                        BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    organ_id                  TEXT COLLATE "C" NOT NULL REFERENCES organs (id),
    bloc                      TEXT NOT NULL,
    locality_code             TEXT NOT NULL,
    text                      TEXT NOT NULL,
    topic                     TEXT,
    addressee                 TEXT NOT NULL,
    source                    TEXT,
    cluster_id                BIGINT NOT NULL REFERENCES clusters (id),
    outcome                   TEXT NOT NULL,
    matched_recommendation_id BIGINT,
    matched_cluster_id        BIGINT,
    -- 0 when nothing matched. Never NULL: sqlx's Any driver types a NULL
    -- double as float4 on PostgreSQL, which then breaks the cached statement.
    match_score               DOUBLE PRECISION NOT NULL,
    submitted_at              BIGINT NOT NULL,
    norm_version              BIGINT NOT NULL,
    exact_key                 BIGINT NOT NULL,
    -- The dedup engine's analysis as JSON, read back to score candidates.
    analysis                  TEXT NOT NULL
);
CREATE INDEX recommendations_by_organ ON recommendations (organ_id, id);
CREATE INDEX recommendations_by_cluster ON recommendations (cluster_id, id);
CREATE INDEX recommendations_by_exact_key ON recommendations (exact_key);

-- The LSH index shared by every server: band key → recommendations.
CREATE TABLE recommendation_bands (
    band_key          BIGINT NOT NULL,
    recommendation_id BIGINT NOT NULL REFERENCES recommendations (id),
    PRIMARY KEY (band_key, recommendation_id)
);

-- Possible duplicates of a NEEDS_REVIEW recommendation awaiting an officer.
CREATE TABLE recommendation_suggestions (
    recommendation_id           BIGINT NOT NULL REFERENCES recommendations (id),
    rank                        BIGINT NOT NULL,
    suggested_recommendation_id BIGINT NOT NULL REFERENCES recommendations (id),
    suggested_cluster_id        BIGINT NOT NULL REFERENCES clusters (id),
    score                       DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (recommendation_id, rank)
);

-- Document frequencies for scoring, updated with every recommendation.
CREATE TABLE dedup_terms (
    term           TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    document_count BIGINT NOT NULL
);

CREATE TABLE dedup_corpus (
    id             BIGINT NOT NULL PRIMARY KEY CHECK (id = 1),
    document_count BIGINT NOT NULL
);
INSERT INTO dedup_corpus (id, document_count) VALUES (1, 0);

-- Who decided what on a cluster, and when.
CREATE TABLE cluster_decisions (
    id                BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    cluster_id        BIGINT NOT NULL REFERENCES clusters (id),
    recommendation_id BIGINT REFERENCES recommendations (id),
    action            TEXT NOT NULL,
    actor_organ       TEXT COLLATE "C" NOT NULL REFERENCES organs (id),
    detail            TEXT NOT NULL,
    decided_at        BIGINT NOT NULL
);
CREATE INDEX cluster_decisions_by_cluster ON cluster_decisions (cluster_id, id);
