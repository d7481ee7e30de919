MATCH (:{{user_label}})-[r:{{rel}}]->(:{{user_label}}) RETURN 1 AS one LIMIT 1
