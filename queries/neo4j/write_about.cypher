// Post -> topic links; $rows: [{post_id, topic_id}] (earlier links were cleared first).
UNWIND $rows AS r
MATCH (p:{{post_label}} {{{post_id}}: r.post_id})
MATCH (t:{{topic_label}} {topic_id: r.topic_id})
MERGE (p)-[:{{about_rel}}]->(t)
