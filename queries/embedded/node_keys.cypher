MATCH (n:{{label}}) RETURN n.{{key}} AS key
