// Upsert interaction edges, one per (src, dst, kind); $rows: [{src, dst, kind, weight, count, created_at, last_at}].
UNWIND $rows AS r
MATCH (a:{{user_label}} {{{user_id}}: r.src})
MATCH (b:{{user_label}} {{{user_id}}: r.dst})
MERGE (a)-[i:{{interacts}} {{{kind}}: r.kind}]->(b)
SET i.{{weight}} = r.weight, i.count = r.count,
    i.created_at = coalesce(r.created_at, i.created_at), i.last_at = coalesce(r.last_at, i.last_at)
