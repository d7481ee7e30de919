// Update existing interaction edges from a frame (src, dst, kind, weight, count, created_at, last_at).
LOAD FROM $frame
MATCH (a:{{user_label}} {{{user_id}}: src})-[i:{{interacts}}]->(b:{{user_label}} {{{user_id}}: dst})
WHERE i.{{kind}} = kind
SET i.{{weight}} = weight, i.count = count, i.created_at = created_at, i.last_at = last_at
