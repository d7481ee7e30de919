MATCH (u:{{user_label}}) WITH count(u) AS users
OPTIONAL MATCH (p:{{post_label}}) WITH users, count(p) AS posts
OPTIONAL MATCH (:{{user_label}})-[f:{{follows}}]->(:{{user_label}}) WITH users, posts, count(f) AS follows
OPTIONAL MATCH (:{{user_label}})-[i:{{interacts}}]->(:{{user_label}}) WITH users, posts, follows, count(i) AS interactions
OPTIONAL MATCH (c:{{community_label}})
RETURN users, posts, follows, interactions, count(c) AS communities
