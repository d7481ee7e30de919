LOAD FROM $frame
MATCH (u:{{user_label}} {{{user_id}}: user_id})
MERGE (p:{{post_label}} {{{post_id}}: post_id})
SET p.{{post_text}} = text, p.{{post_created_at}} = created_at, p.lang = lang
MERGE (u)-[:{{post_rel}}]->(p)
