// Users with the most similar profiles (cosine), an exact scan of the profile table.
// params: user:str, k:int=10
MATCH (a:{{profile_table}} {user_id: $user}), (b:{{profile_table}})
WHERE b.user_id <> a.user_id
WITH b, array_cosine_similarity(a.value, b.value) AS score
MATCH (node:{{user_label}} {{{user_id}}: b.user_id})
RETURN b.user_id AS user_id, score, node.community_name AS community
ORDER BY score DESC, user_id
LIMIT $k
