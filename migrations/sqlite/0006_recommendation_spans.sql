-- Ranking clusters and counting dedup outcomes read the recommendations
-- submitted in a span of time.
CREATE INDEX recommendations_by_submission ON recommendations (submitted_at, cluster_id);
