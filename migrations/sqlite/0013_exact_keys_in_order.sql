-- On PostgreSQL this version puts the id into the exact-key index, so exact
-- duplicates come oldest first from the index. A SQLite index already ends
-- with the rowid (the id), so there is nothing to change here; the version
-- keeps both trees in step.
SELECT 1;
