LOAD FROM $frame
MATCH (u:{{user_label}} {{{user_id}}: user_id})-[old:{{membership_rel}}]->(o:{{community_label}})
WHERE o.community_id <> community_id
DELETE old
