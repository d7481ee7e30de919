// Bridges: users whose follows and interactions reach the most other communities.
// params: limit:int=20
MATCH (u:{{user_label}})-[:{{follows}}|{{interacts}}]-(v:{{user_label}})
WHERE u.community_id <> v.community_id
WITH u, count(DISTINCT v.community_id) AS other_communities, count(*) AS cross_links
RETURN u.{{user_id}} AS user_id, u.community_id AS community_id, other_communities, cross_links
ORDER BY other_communities DESC, cross_links DESC, user_id
LIMIT $limit
