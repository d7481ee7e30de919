// Each user ends with exactly one membership link; $rows: [{user_id, community_id}].
UNWIND $rows AS r
MATCH (u:{{user_label}} {{{user_id}}: r.user_id})
MATCH (c:{{community_label}} {community_id: r.community_id})
OPTIONAL MATCH (u)-[old:{{membership_rel}}]->(o:{{community_label}})
WHERE o <> c
WITH u, c, collect(old) AS olds
FOREACH (x IN olds | DELETE x)
MERGE (u)-[:{{membership_rel}}]->(c)
