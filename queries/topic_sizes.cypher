// Every topic's post count as the graph holds it now, with its name and terms.
MATCH (t:{{topic_label}})
OPTIONAL MATCH (p:{{post_label}})-[:{{about_rel}}]->(t)
RETURN t.topic_id AS topic_id, count(p) AS size, t.name AS name, t.terms AS terms
