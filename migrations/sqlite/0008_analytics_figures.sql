-- Analytics reads, SQLite flavour; the same version in migrations/postgres/.
--
-- Each report carries the numeric values of its latest revision as
-- `code=value;…` (integers as written, decimals with their scale), written
-- in the same statement that sets `latest_revision`. A roll-up then reads
-- one row per report instead of one per value, and the exact text gives the
-- same floats as `numeric_value`.
ALTER TABLE reports ADD COLUMN latest_figures TEXT NOT NULL DEFAULT '';
UPDATE reports SET latest_figures = COALESCE((
    SELECT group_concat(v.indicator_code || '=' || COALESCE(CAST(v.int_value AS TEXT), v.decimal_value), ';')
    FROM report_values v
    WHERE v.report_id = reports.id AND v.revision = reports.latest_revision
      AND v.numeric_value IS NOT NULL), '');

-- A counter bumped by every change to organs or localities, so a server
-- may keep the directory in memory and still see an import made by
-- another process (the CLI writes the database directly).
CREATE TABLE directory_version (
    id      INTEGER NOT NULL PRIMARY KEY CHECK (id = 1),
    version INTEGER NOT NULL
) STRICT;
INSERT INTO directory_version (id, version) VALUES (1, 1);
CREATE TRIGGER organs_inserted AFTER INSERT ON organs
BEGIN UPDATE directory_version SET version = version + 1; END;
CREATE TRIGGER organs_updated AFTER UPDATE ON organs
BEGIN UPDATE directory_version SET version = version + 1; END;
CREATE TRIGGER organs_deleted AFTER DELETE ON organs
BEGIN UPDATE directory_version SET version = version + 1; END;
CREATE TRIGGER localities_inserted AFTER INSERT ON localities
BEGIN UPDATE directory_version SET version = version + 1; END;
CREATE TRIGGER localities_updated AFTER UPDATE ON localities
BEGIN UPDATE directory_version SET version = version + 1; END;
CREATE TRIGGER localities_deleted AFTER DELETE ON localities
BEGIN UPDATE directory_version SET version = version + 1; END;
