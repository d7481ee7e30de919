MATCH (n:{{table}})
WHERE NOT n.{{key}} IN $keep
DETACH DELETE n
