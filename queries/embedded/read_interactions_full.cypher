MATCH (a:{{user_label}})-[i:{{rel}}]->(b:{{user_label}})
RETURN a.{{user_id}} AS src, b.{{user_id}} AS dst, i.{{kind}} AS kind, i.{{weight}} AS weight,
       i.count AS count, i.created_at AS created_at, i.last_at AS last_at
