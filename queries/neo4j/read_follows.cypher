// Grouped per source user: one record per user decodes far faster than one per edge.
MATCH (a:{{user_label}})-[:{{rel}}]->(b:{{user_label}})
WITH a, collect(toString(b.{{user_id}})) AS dsts
RETURN toString(a.{{user_id}}) AS src, dsts
