// Erasure: the posts of the given users (ids and texts, read before they are deleted).
// $ids: [user id]
MATCH (u:{{user_label}})-[:{{post_rel}}]->(p:{{post_label}})
WHERE u.{{user_id}} IN $ids
RETURN p.{{post_id}} AS post_id, p.{{post_text}} AS text
