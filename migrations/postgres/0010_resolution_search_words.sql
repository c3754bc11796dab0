-- The search columns of resolutions now hold the words alone, each between
-- single spaces, so a search matches whole words. They are computed in Rust
-- (lienthong_domain::resolution::SearchColumns); blanked here, they are
-- computed again when the store opens.
UPDATE resolutions SET search_text = '', search_folded = '';
