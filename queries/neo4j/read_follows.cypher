// $lo/$hi: only users with lo <= id < hi (null: no bound); Ray workers read one range each.
// Grouped per source user: one record per user decodes far faster than one per edge.
MATCH (a:{{user_label}})-[:{{rel}}]->(b:{{user_label}})
WHERE ($lo IS NULL OR toString(a.{{user_id}}) >= $lo) AND ($hi IS NULL OR toString(a.{{user_id}}) < $hi)
WITH a, collect(toString(b.{{user_id}})) AS dsts
RETURN toString(a.{{user_id}}) AS src, dsts
