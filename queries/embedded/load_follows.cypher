LOAD FROM $frame
MATCH (a:{{user_label}} {{{user_id}}: src}), (b:{{user_label}} {{{user_id}}: dst})
MERGE (a)-[f:{{follows}}]->(b)
SET f.created_at = created_at
