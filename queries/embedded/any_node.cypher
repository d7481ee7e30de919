MATCH (n:{{label}}) RETURN 1 AS one LIMIT 1
