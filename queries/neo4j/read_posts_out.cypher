// Posts linked (user)-[:post_rel]->(post); posts without an id get their element id.
MATCH (u:{{user_label}})-[:{{post_rel}}]->(p:{{post_label}})
RETURN coalesce(toString(p.{{post_id}}), elementId(p)) AS post_id, toString(u.{{user_id}}) AS user_id,
       p.{{post_text}} AS text, p.{{post_created_at}} AS created_at, p.lang AS lang
