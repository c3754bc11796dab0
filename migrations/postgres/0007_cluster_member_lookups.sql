-- A new member of a cluster is counted without recounting the others:
-- whether another member already has its locality or bloc is an index probe.
CREATE INDEX recommendations_by_cluster_locality ON recommendations (cluster_id, locality_code);
CREATE INDEX recommendations_by_cluster_bloc ON recommendations (cluster_id, bloc);
