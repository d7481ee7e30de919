MATCH (n:{{table}})
WHERE NOT list_contains($keep, n.{{key}})
DETACH DELETE n
