UNWIND $rows AS r
MATCH (a:{{user_label}} {{{user_id}}: r.src})-[i:{{interacts}}]->(b:{{user_label}} {{{user_id}}: r.dst})
WHERE i.{{kind}} = r.kind
SET i.{{weight}} = r.weight, i.count = r.count, i.created_at = r.created_at, i.last_at = r.last_at
