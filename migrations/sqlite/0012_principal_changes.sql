-- On PostgreSQL this version adds triggers that tell servers of changes to
-- tokens and organs, so they can keep the tokens they have read. A SQLite
-- database has a single server, which reads its token on every request, so
-- there is nothing to add here; the version keeps both trees in step.
SELECT 1;
