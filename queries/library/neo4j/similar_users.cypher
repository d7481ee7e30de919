// Users with the most similar profiles (cosine), through the profile vector index.
// params: user:str, k:int=10
MATCH (u:{{user_label}} {{{user_id}}: $user})
CALL db.index.vector.queryNodes($index, $k + 1, u.{{profile}}) YIELD node, score
WITH u, node, score WHERE node <> u
RETURN node.{{user_id}} AS user_id, score, node.community_name AS community
ORDER BY score DESC, user_id
LIMIT $k
