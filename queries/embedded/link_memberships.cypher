LOAD FROM $frame
MATCH (u:{{user_label}} {{{user_id}}: user_id}), (c:{{community_label}} {community_id: community_id})
MERGE (u)-[:{{membership_rel}}]->(c)
