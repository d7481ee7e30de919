// Who to follow: friends of friends not yet followed, ranked by profile similarity.
// params: user:str, limit:int=10
MATCH (u:{{user_label}} {{{user_id}}: $user})-[:{{follows}}]->(m:{{user_label}})-[:{{follows}}]->(c:{{user_label}})
WHERE c.{{user_id}} <> u.{{user_id}} AND NOT EXISTS { MATCH (u)-[:{{follows}}]->(c) }
WITH u, c, count(DISTINCT m) AS mutual
MATCH (pu:{{profile_table}} {user_id: u.{{user_id}}}), (pc:{{profile_table}} {user_id: c.{{user_id}}})
RETURN c.{{user_id}} AS user_id, array_cosine_similarity(pu.value, pc.value) AS score,
       mutual, c.community_id = u.community_id AS same_community
ORDER BY score DESC, user_id
LIMIT $limit
