// Numbers of users, posts, follows, interactions and communities (COUNT subqueries, Neo4j 5.0+;
// the CALL { ... } form without a scope clause is deprecated since 5.23).
RETURN COUNT { MATCH (u:{{user_label}}) } AS users,
       COUNT { MATCH (:{{user_label}})-[:{{post_rel}}]->(p:{{post_label}}) } AS posts,
       COUNT { MATCH (:{{user_label}})-[f:{{follows}}]->(:{{user_label}}) } AS follows,
       COUNT { MATCH (:{{user_label}})-[i:{{interacts}}]->(:{{user_label}}) } AS interactions,
       COUNT { MATCH (c:{{community_label}}) } AS communities
