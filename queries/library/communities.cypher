// Every community, largest first.
// params: limit:int=100
MATCH (c:{{community_label}})
RETURN c.community_id AS community_id, c.name AS name, c.size AS size, c.terms AS terms,
       c.top_members AS top_members
ORDER BY size DESC, community_id
LIMIT $limit
