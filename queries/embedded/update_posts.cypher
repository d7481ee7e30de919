// Update existing posts from a frame; an unknown time or language keeps the stored one.
LOAD FROM $frame
MATCH (p:{{post_label}} {{{post_id}}: post_id})
SET p.{{post_text}} = text, p.{{post_created_at}} = coalesce(created_at, p.{{post_created_at}}),
    p.lang = coalesce(lang, p.lang)
