// $lo/$hi: only users with lo <= id < hi (null: no bound); Ray workers read one range each.
// Posts linked (user)-[:post_rel]->(post); posts without an id get their element id.
MATCH (u:{{user_label}})-[:{{post_rel}}]->(p:{{post_label}})
WHERE ($lo IS NULL OR toString(u.{{user_id}}) >= $lo) AND ($hi IS NULL OR toString(u.{{user_id}}) < $hi)
RETURN coalesce(toString(p.{{post_id}}), elementId(p)) AS post_id, toString(u.{{user_id}}) AS user_id,
       p.{{post_text}} AS text, p.{{post_created_at}} AS created_at, p.lang AS lang
