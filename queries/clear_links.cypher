// Every link of one type from a post to one of graphsona's nodes (a batch at a time on Neo4j).
MATCH (:{{post_label}})-[r:{{rel}}]->(:{{label}})
WITH r LIMIT 50000
DELETE r
RETURN count(*) AS n
