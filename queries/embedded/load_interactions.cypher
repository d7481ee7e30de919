LOAD FROM $frame
MATCH (a:{{user_label}} {{{user_id}}: src}), (b:{{user_label}} {{{user_id}}: dst})
MERGE (a)-[i:{{interacts}} {{{kind}}: kind}]->(b)
SET i.{{weight}} = weight, i.count = count, i.created_at = created_at, i.last_at = last_at
