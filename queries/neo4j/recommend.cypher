// $rows: [{user_id, candidate_id, score, rank}]; run after unrecommend for the same users.
UNWIND $rows AS r
MATCH (a:{{user_label}} {{{user_id}}: r.user_id})
MATCH (b:{{user_label}} {{{user_id}}: r.candidate_id})
MERGE (a)-[x:{{recommended_rel}}]->(b)
SET x.score = r.score, x.rank = r.rank
