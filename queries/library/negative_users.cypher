// Users whose posts are most often negative, with their community and influence.
// params: min_posts:int=3, limit:int=20
MATCH (u:{{user_label}})
WHERE u.scored_posts >= $min_posts
RETURN u.{{user_id}} AS user_id, u.community_name AS community, u.mood AS mood,
       u.negative_share AS negative_share, u.scored_posts AS scored_posts, u.influence AS influence
ORDER BY negative_share DESC, influence DESC, user_id
LIMIT $limit
