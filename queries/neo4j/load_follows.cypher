// Upsert follow edges; $rows: [{src, dst, created_at}] (src follows dst).
UNWIND $rows AS r
MATCH (a:{{user_label}} {{{user_id}}: r.src})
MATCH (b:{{user_label}} {{{user_id}}: r.dst})
MERGE (a)-[f:{{follows}}]->(b)
SET f.created_at = coalesce(r.created_at, f.created_at)
