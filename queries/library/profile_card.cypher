// One user's profile card: community, influence, predicted topic (if any), follower counts.
// params: user:str
MATCH (u:{{user_label}} {{{user_id}}: $user})
OPTIONAL MATCH (f:{{user_label}})-[:{{follows}}]->(u)
WITH u, count(f) AS followers
OPTIONAL MATCH (u)-[:{{follows}}]->(g:{{user_label}})
RETURN u.{{user_id}} AS user_id, u.community_id AS community_id, u.community_name AS community,
       u.influence AS influence, u.influence_rank AS rank, followers, count(g) AS following,
       u.profile_run_id AS run_id
LIMIT 1
