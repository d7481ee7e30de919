// Who to follow: friends of friends not yet followed, ranked by profile similarity.
// params: user:str, limit:int=10
// Bounded on any graph: at most 1,000 of the user's follows and 100,000 two-hop paths are read
// (beyond that, `mutual` counts within the sample).
MATCH (u:{{user_label}} {{{user_id}}: $user})-[:{{follows}}]->(m:{{user_label}})
WITH u, m LIMIT 1000
MATCH (m)-[:{{follows}}]->(c:{{user_label}})
WITH u, m, c LIMIT 100000
WITH u, c, count(DISTINCT m) AS mutual
WHERE c <> u AND NOT EXISTS { MATCH (u)-[:{{follows}}]->(c) }
RETURN c.{{user_id}} AS user_id, vector.similarity.cosine(u.{{profile}}, c.{{profile}}) AS score,
       mutual, c.community_id = u.community_id AS same_community
ORDER BY score DESC, user_id
LIMIT $limit
