LOAD FROM $frame
MERGE (c:{{community_label}} {community_id: community_id})
SET {{c.columns=...}}
