// Posts about a topic, newest first, with their author and sentiment.
// params: topic:int, limit:int=20
MATCH (u:{{user_label}})-[:{{post_rel}}]-(p:{{post_label}})-[:{{about_rel}}]->(t:{{topic_label}})
WHERE t.topic_id = $topic
RETURN p.{{post_id}} AS post_id, u.{{user_id}} AS user_id, p.{{post_created_at}} AS created_at,
       p.sentiment AS sentiment, p.{{post_text}} AS text
ORDER BY created_at DESC, post_id
LIMIT $limit
