// Write-back of per-post results; $rows: [{id, props}]. Idempotent: SET overwrites.
UNWIND $rows AS r
MATCH (p:{{post_label}} {{{post_id}}: r.id})
SET p += r.props
