// Every community's member count as the graph holds it now, with its published texts.
MATCH (c:{{community_label}})
OPTIONAL MATCH (u:{{user_label}})-[:{{membership_rel}}]->(c)
RETURN c.community_id AS community_id, count(u) AS size, c.name AS name,
       c.description AS description, c.terms AS terms, c.hashtags AS hashtags,
       c.top_members AS top_members
