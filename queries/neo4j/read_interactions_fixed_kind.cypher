// $lo/$hi: only users with lo <= id < hi (null: no bound); Ray workers read one range each.
// Interactions of a relationship type mapped to one kind ($kind); grouped per source user.
MATCH (a:{{user_label}})-[r:{{rel}}]->(b:{{user_label}})
WHERE ($lo IS NULL OR toString(a.{{user_id}}) >= $lo) AND ($hi IS NULL OR toString(a.{{user_id}}) < $hi)
WITH a, b, r, valueType(r.created_at) AS tt
WITH a, collect(toString(b.{{user_id}})) AS dsts, collect(toFloat(coalesce(r.{{weight}}, 1.0))) AS weights,
     collect(CASE WHEN tt STARTS WITH 'ZONED DATETIME' OR tt STARTS WITH 'LOCAL DATETIME' THEN r.created_at.epochSeconds
                  WHEN tt STARTS WITH 'INTEGER' THEN r.created_at ELSE -1 END) AS times
RETURN toString(a.{{user_id}}) AS src, dsts, [x IN dsts | $kind] AS kinds, weights, times
