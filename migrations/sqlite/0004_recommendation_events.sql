-- What happened to each recommendation, for the WatchRecommendations stream.
-- Written in the same transaction as the cluster decision it reports; the id
-- is the cursor a client resumes from. Kept in step with the PostgreSQL tree.
CREATE TABLE recommendation_events (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    organ_id          TEXT NOT NULL REFERENCES organs (id),
    recommendation_id INTEGER NOT NULL REFERENCES recommendations (id),
    cluster_id        INTEGER NOT NULL REFERENCES clusters (id),
    action            TEXT NOT NULL,
    detail            TEXT NOT NULL,
    occurred_at       INTEGER NOT NULL
) STRICT;
CREATE INDEX recommendation_events_by_organ ON recommendation_events (organ_id, id);
