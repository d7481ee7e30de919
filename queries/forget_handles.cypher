// Erasure: the handles of the given users (their words may name them). $ids: [user id]
MATCH (u:{{user_label}})
WHERE u.{{user_id}} IN $ids AND u.handle IS NOT NULL
RETURN u.handle AS handle
