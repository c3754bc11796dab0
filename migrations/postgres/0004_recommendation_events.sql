-- What happened to each recommendation, for the WatchRecommendations stream.
-- Written in the same transaction as the cluster decision it reports; the id
-- is the cursor a client resumes from. Kept in step with the SQLite tree.
CREATE TABLE recommendation_events (
    id                BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    organ_id          TEXT COLLATE "C" NOT NULL REFERENCES organs (id),
    recommendation_id BIGINT NOT NULL REFERENCES recommendations (id),
    cluster_id        BIGINT NOT NULL REFERENCES clusters (id),
    action            TEXT NOT NULL,
    detail            TEXT NOT NULL,
    occurred_at       BIGINT NOT NULL
);
CREATE INDEX recommendation_events_by_organ ON recommendation_events (organ_id, id);
