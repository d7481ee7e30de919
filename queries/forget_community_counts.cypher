// Erasure: how many of the given users each community counts. $ids: [user id]
MATCH (u:{{user_label}})-[:{{membership_rel}}]->(c:{{community_label}})
WHERE u.{{user_id}} IN $ids
RETURN c.community_id AS community_id, count(*) AS erased
