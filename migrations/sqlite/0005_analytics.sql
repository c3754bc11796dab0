-- Indexes for the analytics queries, SQLite flavour; the same version in
-- migrations/postgres/. Every analytics query reads the reports of one form
-- for a set of periods and needs, per report, its organ, latest revision,
-- status and lateness: this index answers that part without touching the
-- table. The values are then reached through report_values' primary key,
-- which (WITHOUT ROWID) holds numeric_value in the same b-tree.
CREATE INDEX reports_for_analytics
    ON reports (form_code, period, organ_id, latest_revision, status, late, id);
