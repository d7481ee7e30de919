MATCH (c:{{community_label}})
WHERE NOT list_contains($keep, c.community_id)
DETACH DELETE c
