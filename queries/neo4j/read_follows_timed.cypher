// $lo/$hi: only users with lo <= id < hi (null: no bound); Ray workers read one range each.
// Follows with their time (epoch seconds; -1 when absent or not a date-time/integer).
MATCH (a:{{user_label}})-[f:{{rel}}]->(b:{{user_label}})
WHERE ($lo IS NULL OR toString(a.{{user_id}}) >= $lo) AND ($hi IS NULL OR toString(a.{{user_id}}) < $hi)
WITH a, b, f, valueType(f.created_at) AS tt
WITH a, collect(toString(b.{{user_id}})) AS dsts,
     collect(CASE WHEN tt STARTS WITH 'ZONED DATETIME' OR tt STARTS WITH 'LOCAL DATETIME' THEN f.created_at.epochSeconds
                  WHEN tt STARTS WITH 'INTEGER' THEN f.created_at ELSE -1 END) AS times
RETURN toString(a.{{user_id}}) AS src, dsts, times
