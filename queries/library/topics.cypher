// Topics by size: id, name, terms and how many posts are about each.
// params: limit:int=20
MATCH (t:{{topic_label}})
RETURN t.topic_id AS topic_id, t.name AS name, t.size AS size, t.terms AS terms
ORDER BY size DESC, topic_id
LIMIT $limit
