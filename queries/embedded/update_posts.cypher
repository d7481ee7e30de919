LOAD FROM $frame
MATCH (p:{{post_label}} {{{post_id}}: post_id})
SET p.{{post_text}} = text, p.{{post_created_at}} = created_at, p.lang = lang
