MATCH (u:{{user_label}})-[:{{post_rel}}]->(p:{{post_label}})
RETURN p.{{post_id}} AS post_id, u.{{user_id}} AS user_id, p.{{post_text}} AS text, p.{{post_created_at}} AS created_at, p.lang AS lang
