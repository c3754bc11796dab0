-- Recommendations an administrator imported from earlier records (paper
-- registers, spreadsheets) keep their original submission time in
-- submitted_at; imported_by names the importing organ. NULL: submitted live.
ALTER TABLE recommendations ADD COLUMN imported_by TEXT COLLATE "C" REFERENCES organs (id);
