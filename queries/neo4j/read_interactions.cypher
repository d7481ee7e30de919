// $lo/$hi: only users with lo <= id < hi (null: no bound); Ray workers read one range each.
// Interactions whose kind is a property; grouped per source user (see read_follows).
// created_at (first time of the pair) comes back as epoch seconds when it is a date-time or an
// integer, else null (foreign graphs may store anything there).
MATCH (a:{{user_label}})-[r:{{rel}}]->(b:{{user_label}})
WHERE ($lo IS NULL OR toString(a.{{user_id}}) >= $lo) AND ($hi IS NULL OR toString(a.{{user_id}}) < $hi)
WITH a, b, r, valueType(r.created_at) AS tt
WITH a, collect(toString(b.{{user_id}})) AS dsts, collect(toString(r.{{kind}})) AS kinds,
     collect(toFloat(coalesce(r.{{weight}}, 1.0))) AS weights,
     collect(CASE WHEN tt STARTS WITH 'ZONED DATETIME' OR tt STARTS WITH 'LOCAL DATETIME' THEN r.created_at.epochSeconds
                  WHEN tt STARTS WITH 'INTEGER' THEN r.created_at ELSE -1 END) AS times
RETURN toString(a.{{user_id}}) AS src, dsts, kinds, weights, times
