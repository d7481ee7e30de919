// Write-back of per-user results; $rows: [{id, props}]. Idempotent: SET overwrites.
UNWIND $rows AS r
MATCH (u:{{user_label}} {{{user_id}}: r.id})
SET u += r.props
