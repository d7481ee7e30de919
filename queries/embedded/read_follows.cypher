MATCH (a:{{user_label}})-[:{{rel}}]->(b:{{user_label}})
RETURN a.{{user_id}} AS src, b.{{user_id}} AS dst
