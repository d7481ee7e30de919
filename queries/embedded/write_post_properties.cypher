// Write-back of per-post results from a frame (post_id + property columns). Idempotent.
LOAD FROM $frame
MATCH (p:{{post_label}} {{{post_id}}: post_id})
SET {{p.columns=...}}
