// Upsert posts and their author link; $rows: [{user_id, post_id, text, created_at, lang}].
UNWIND $rows AS r
MATCH (u:{{user_label}} {{{user_id}}: r.user_id})
MERGE (p:{{post_label}} {{{post_id}}: r.post_id})
SET p.{{post_text}} = r.text, p.{{post_created_at}} = coalesce(r.created_at, p.{{post_created_at}}),
    p.lang = coalesce(r.lang, p.lang)
MERGE (u)-[:{{post_rel}}]->(p)
