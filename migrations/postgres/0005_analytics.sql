-- Indexes for the analytics queries, PostgreSQL flavour; the same version in
-- migrations/sqlite/. Every analytics query reads the reports of one form for
-- a set of periods and needs, per report, its organ, latest revision, status
-- and lateness: the first index answers that part by an index-only scan.
CREATE INDEX reports_for_analytics
    ON reports (form_code, period, organ_id, latest_revision, status, late, id);
-- Latest values and percentage parts read a few indicators of many reports:
-- this index reaches just those values (and their float copy) instead of
-- scanning every value. SQLite needs no such index: its report_values is
-- clustered on (report_id, revision, indicator_code), so a few key lookups
-- per report are as cheap.
CREATE INDEX report_values_by_indicator
    ON report_values (indicator_code, report_id, revision) INCLUDE (numeric_value);
