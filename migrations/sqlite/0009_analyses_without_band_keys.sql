-- Stored analyses no longer carry their LSH band keys, about half of each
-- analysis: recommendation_bands indexes them, and scoring a candidate
-- never reads them. Reading candidates then moves half the bytes.
UPDATE recommendations SET analysis = json_remove(analysis, '$.band_keys')
WHERE json_type(analysis, '$.band_keys') IS NOT NULL;
