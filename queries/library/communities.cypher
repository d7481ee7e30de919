// Every community, largest first: name, description, distinctive terms and hashtags, top members.
// params: limit:int=100
MATCH (c:{{community_label}})
RETURN c.community_id AS community_id, c.name AS name, c.size AS size, c.terms AS terms,
       c.hashtags AS hashtags, c.top_members AS top_members, c.description AS description
ORDER BY size DESC, community_id
LIMIT $limit
