// Write-back of per-user results from a frame (user_id + property columns). Idempotent.
LOAD FROM $frame
MATCH (u:{{user_label}} {{{user_id}}: user_id})
SET {{u.columns=...}}
