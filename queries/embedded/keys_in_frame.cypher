LOAD FROM $frame
MATCH (n:{{label}} {{{key}}: user_id})
RETURN n.{{key}} AS key
