MATCH (a:{{user_label}})-[f:{{rel}}]->(b:{{user_label}})
RETURN a.{{user_id}} AS src, b.{{user_id}} AS dst, f.created_at AS created_at
