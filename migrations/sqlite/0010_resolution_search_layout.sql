-- Which layout a resolution's search columns are in. Layout 2 holds the
-- words alone, each between single spaces, so a search matches whole words;
-- the columns are computed in Rust (lienthong_domain::resolution::SearchColumns),
-- and a store that opens the database brings rows of an older layout (those
-- stored before, or by an older server during a rolling upgrade) up to date.
ALTER TABLE resolutions ADD COLUMN search_layout INTEGER NOT NULL DEFAULT 1;
