// Posts that carry images (paths or URLs), with their author.
MATCH (u:{{user_label}})-[:{{post_rel}}]->(p:{{post_label}})
WHERE p.images IS NOT NULL
RETURN coalesce(toString(p.{{post_id}}), elementId(p)) AS post_id, toString(u.{{user_id}}) AS user_id,
       p.images AS images
