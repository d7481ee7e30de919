// Posts that carry images (paths or URLs), with their author.
MATCH (u:{{user_label}})-[:{{post_rel}}]->(p:{{post_label}})
WHERE p.images IS NOT NULL
RETURN p.{{post_id}} AS post_id, u.{{user_id}} AS user_id, p.images AS images
