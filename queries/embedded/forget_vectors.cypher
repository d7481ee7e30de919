// Erasure: the given users' rows of one vector side table. $ids: [user id]
MATCH (v:{{table}})
WHERE v.user_id IN $ids
DELETE v
