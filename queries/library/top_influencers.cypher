// Most influential users overall (influence rank 1 = most influential).
// params: limit:int=10
MATCH (u:{{user_label}})
WHERE u.influence_rank IS NOT NULL
RETURN u.{{user_id}} AS user_id, u.influence_rank AS rank, u.influence AS influence,
       u.community_id AS community_id, u.community_name AS community
ORDER BY rank, user_id
LIMIT $limit
