-- Indexes for the analytics queries, PostgreSQL flavour; the same version in
-- migrations/sqlite/. Every analytics query reads the reports of one form for
-- a set of periods and needs, per report, its organ, latest revision, status
-- and lateness: this index answers that part by an index-only scan.
CREATE INDEX reports_for_analytics
    ON reports (form_code, period, organ_id, latest_revision, status, late, id);
