// Erasure: the communities the given users belong to. $ids: [user id]
MATCH (u:{{user_label}})-[:{{membership_rel}}]->(c:{{community_label}})
WHERE u.{{user_id}} IN $ids
RETURN DISTINCT c.community_id AS community_id
