LOAD FROM $frame
MERGE (u:{{user_label}} {{{user_id}}: user_id})
SET {{u.columns=...}}
