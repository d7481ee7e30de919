// Merge graphsona's own nodes (topics, alerts) from a frame: key + property columns. Idempotent.
LOAD FROM $frame
MERGE (n:{{table}} {{{key}}: {{key}}})
SET {{n.columns=...}}
