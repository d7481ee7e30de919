// Interaction volume between communities (from the engaging user's to the engaged user's).
// params: limit:int=50
MATCH (a:{{user_label}})-[r:{{interacts}}]->(b:{{user_label}})
WHERE a.community_id IS NOT NULL AND b.community_id IS NOT NULL
RETURN a.community_id AS from_community, b.community_id AS to_community,
       count(*) AS interactions, sum(r.{{weight}}) AS weight
ORDER BY interactions DESC, from_community, to_community
LIMIT $limit
