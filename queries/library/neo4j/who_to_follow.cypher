// Who to follow: friends of friends not yet followed, ranked by profile similarity.
// params: user:str, limit:int=10
MATCH (u:{{user_label}} {{{user_id}}: $user})-[:{{follows}}]->(m:{{user_label}})-[:{{follows}}]->(c:{{user_label}})
WHERE c <> u AND NOT EXISTS { MATCH (u)-[:{{follows}}]->(c) }
WITH u, c, count(DISTINCT m) AS mutual
RETURN c.{{user_id}} AS user_id, vector.similarity.cosine(u.{{profile}}, c.{{profile}}) AS score,
       mutual, c.community_id = u.community_id AS same_community
ORDER BY score DESC, user_id
LIMIT $limit
