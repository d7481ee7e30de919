// What a community's members post about: topics by number of posts.
// params: community:int, limit:int=10
MATCH (u:{{user_label}})-[:{{membership_rel}}]->(c:{{community_label}})
WHERE c.community_id = $community
MATCH (u)-[:{{post_rel}}]-(p:{{post_label}})-[:{{about_rel}}]->(t:{{topic_label}})
RETURN t.topic_id AS topic_id, t.name AS name, count(p) AS posts
ORDER BY posts DESC, topic_id
LIMIT $limit
