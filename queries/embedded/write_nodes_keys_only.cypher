LOAD FROM $frame
MERGE (n:{{table}} {{{key}}: {{key}}})
