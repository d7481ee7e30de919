// Update times of existing follow edges from a frame (src, dst, created_at).
LOAD FROM $frame
MATCH (a:{{user_label}} {{{user_id}}: src})-[f:{{follows}}]->(b:{{user_label}} {{{user_id}}: dst})
SET f.created_at = created_at
