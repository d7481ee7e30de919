MATCH (a:{{user_label}})-[r:{{rel}}]->(b:{{user_label}})
RETURN a.{{user_id}} AS src, b.{{user_id}} AS dst, r.{{kind}} AS kind, CAST(coalesce(r.{{weight}}, 1.0), 'DOUBLE') AS weight, r.created_at AS created_at
