CALL { MATCH (u:{{user_label}}) RETURN count(u) AS users }
CALL { MATCH (:{{user_label}})-[:{{post_rel}}]->(p:{{post_label}}) RETURN count(p) AS posts }
CALL { MATCH (:{{user_label}})-[f:{{follows}}]->(:{{user_label}}) RETURN count(f) AS follows }
CALL { MATCH (:{{user_label}})-[i:{{interacts}}]->(:{{user_label}}) RETURN count(i) AS interactions }
CALL { MATCH (c:{{community_label}}) RETURN count(c) AS communities }
RETURN users, posts, follows, interactions, communities
