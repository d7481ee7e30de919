// Erasure: delete the given users with every link they have (follows, interactions in both
// directions, community membership, recommendations to and from them). $ids: [user id]
MATCH (u:{{user_label}})
WHERE u.{{user_id}} IN $ids
DETACH DELETE u
