// Who to follow: friends of friends not yet followed, ranked by profile similarity.
// params: user:str, limit:int=10
MATCH (pu:{{profile_table}} {user_id: $user})
// Bounded on any graph: at most 1,000 of the user's follows and 100,000 two-hop paths are read
// (beyond that, `mutual` counts within the sample). The user's profile is looked up by key
// once: joining two profile rows per candidate exhausted the buffer pool at 3,000 users.
MATCH (u:{{user_label}} {{{user_id}}: $user})-[:{{follows}}]->(m:{{user_label}})
WITH pu, u, m LIMIT 1000
MATCH (m)-[:{{follows}}]->(c:{{user_label}})
WITH pu, u, m, c LIMIT 100000
WITH pu, u, c, count(DISTINCT m) AS mutual
WHERE c.{{user_id}} <> u.{{user_id}} AND NOT EXISTS { MATCH (u)-[:{{follows}}]->(c) }
MATCH (pc:{{profile_table}} {user_id: c.{{user_id}}})
RETURN c.{{user_id}} AS user_id, array_cosine_similarity(pu.value, pc.value) AS score,
       mutual, c.community_id = u.community_id AS same_community
ORDER BY score DESC, user_id
LIMIT $limit
