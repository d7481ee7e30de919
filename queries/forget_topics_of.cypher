// Erasure: the topics the given users' posts are about. $ids: [user id]
MATCH (u:{{user_label}})-[:{{post_rel}}]->(:{{post_label}})-[:{{about_rel}}]->(t:{{topic_label}})
WHERE u.{{user_id}} IN $ids
RETURN DISTINCT t.topic_id AS topic_id
