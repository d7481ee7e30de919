// Merge graphsona's own nodes (topics, alerts); $rows: [{id, props}]. Idempotent.
UNWIND $rows AS r
MERGE (n:{{table}} {{{key}}: r.id})
SET n += r.props
