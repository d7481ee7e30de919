// Interactions of a relationship type mapped to one kind ($kind); grouped per source user.
MATCH (a:{{user_label}})-[r:{{rel}}]->(b:{{user_label}})
WITH a, collect(toString(b.{{user_id}})) AS dsts, collect(toFloat(coalesce(r.{{weight}}, 1.0))) AS weights
RETURN toString(a.{{user_id}}) AS src, dsts, [x IN dsts | $kind] AS kinds, weights
