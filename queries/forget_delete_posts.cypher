// Erasure: delete the given users' posts with every link they have (topics, replies).
// $ids: [user id]
MATCH (u:{{user_label}})-[:{{post_rel}}]->(p:{{post_label}})
WHERE u.{{user_id}} IN $ids
DETACH DELETE p
