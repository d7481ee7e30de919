// Most influential members of one community.
// params: community:int, limit:int=10
MATCH (u:{{user_label}})-[:{{membership_rel}}]->(c:{{community_label}} {community_id: $community})
RETURN u.{{user_id}} AS user_id, u.influence_rank AS rank, u.influence AS influence
ORDER BY rank, user_id
LIMIT $limit
