-- Analytics reads, PostgreSQL flavour; the same version in migrations/sqlite/.
--
-- Each report carries the numeric values of its latest revision as
-- `code=value;…` (integers as written, decimals with their scale), written
-- in the same statement that sets `latest_revision`. A roll-up then reads
-- one row per report instead of one per value, and the exact text gives the
-- same floats as `numeric_value`.
ALTER TABLE reports ADD COLUMN latest_figures TEXT NOT NULL DEFAULT '';
UPDATE reports r SET latest_figures = COALESCE((
    SELECT string_agg(v.indicator_code || '=' || COALESCE(v.int_value::TEXT, v.decimal_value), ';'
                      ORDER BY v.position)
    FROM report_values v
    WHERE v.report_id = r.id AND v.revision = r.latest_revision
      AND v.numeric_value IS NOT NULL), '');

-- A counter bumped by every change to organs or localities, so a server
-- may keep the directory in memory and still see an import made by
-- another process (the CLI writes the database directly).
CREATE TABLE directory_version (
    id      BOOLEAN NOT NULL PRIMARY KEY CHECK (id),
    version BIGINT NOT NULL
);
INSERT INTO directory_version (id, version) VALUES (TRUE, 1);
-- The search path is fixed at creation, so the trigger finds the table of
-- its own schema whichever path the writing session has.
CREATE FUNCTION bump_directory_version() RETURNS trigger LANGUAGE plpgsql
SET search_path FROM CURRENT AS $$
BEGIN
    UPDATE directory_version SET version = version + 1;
    RETURN NULL;
END
$$;
CREATE TRIGGER organs_changed AFTER INSERT OR UPDATE OR DELETE ON organs
    FOR EACH STATEMENT EXECUTE FUNCTION bump_directory_version();
CREATE TRIGGER localities_changed AFTER INSERT OR UPDATE OR DELETE ON localities
    FOR EACH STATEMENT EXECUTE FUNCTION bump_directory_version();
