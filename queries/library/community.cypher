// One community: its name, description, distinctive terms and hashtags, size and top members.
// params: community:int
MATCH (c:{{community_label}} {community_id: $community})
RETURN c.community_id AS community_id, c.name AS name, c.description AS description,
       c.terms AS terms, c.hashtags AS hashtags, c.size AS size, c.top_members AS top_members
LIMIT 1
