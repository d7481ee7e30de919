// Erasure: how many of the given users' posts each topic counts. $ids: [user id]
MATCH (u:{{user_label}})-[:{{post_rel}}]->(p:{{post_label}})-[:{{about_rel}}]->(t:{{topic_label}})
WHERE u.{{user_id}} IN $ids
RETURN t.topic_id AS topic_id, count(p) AS erased
