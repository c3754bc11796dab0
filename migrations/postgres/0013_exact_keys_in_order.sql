-- Exact duplicates are read oldest first, a few at most. With the id in the
-- index the rows come in that order from the index itself, so the planner
-- has no reason to walk the primary key filtering on exact_key instead,
-- which it does while the table has no statistics yet (a fresh database,
-- or autovacuum behind): one lookup then reads every row.
DROP INDEX recommendations_by_exact_key;
CREATE INDEX recommendations_by_exact_key ON recommendations (exact_key, id);
