// Communities by mood, most negative first: mean sentiment of members' posts, share of negative posts.
// params: limit:int=20
MATCH (c:{{community_label}})
WHERE c.mood IS NOT NULL
RETURN c.community_id AS community_id, c.name AS name, c.size AS size, c.mood AS mood,
       c.negative_share AS negative_share
ORDER BY negative_share DESC, mood, community_id
LIMIT $limit
