// Upsert users; $rows: [{id, props}]. A null property value removes the property.
UNWIND $rows AS r
MERGE (u:{{user_label}} {{{user_id}}: r.id})
SET u += r.props
