UNWIND $rows AS r
MATCH (a:{{user_label}} {{{user_id}}: r.src})-[f:{{follows}}]->(b:{{user_label}} {{{user_id}}: r.dst})
SET f.created_at = r.created_at
