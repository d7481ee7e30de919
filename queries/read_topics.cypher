// The topics the last run wrote back, with their centroids (to keep topic ids stable).
MATCH (t:{{topic_label}})
RETURN t.topic_id AS topic_id, t.name AS name, t.terms AS terms, t.size AS size,
       t.centroid AS centroid
ORDER BY topic_id
