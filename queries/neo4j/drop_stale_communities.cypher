MATCH (c:{{community_label}})
WHERE NOT c.community_id IN $keep
DETACH DELETE c
