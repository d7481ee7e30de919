// Interactions whose kind is a property; grouped per source user (see read_follows).
MATCH (a:{{user_label}})-[r:{{rel}}]->(b:{{user_label}})
WITH a, collect(toString(b.{{user_id}})) AS dsts, collect(toString(r.{{kind}})) AS kinds,
     collect(toFloat(coalesce(r.{{weight}}, 1.0))) AS weights
RETURN toString(a.{{user_id}}) AS src, dsts, kinds, weights
