// Every post with what the profile job wrote on it (sentiment, topic), its author and time.
MATCH (u:{{user_label}})-[:{{post_rel}}]-(p:{{post_label}})
RETURN p.{{post_id}} AS post_id, u.{{user_id}} AS user_id, p.{{post_created_at}} AS created_at,
       p.sentiment AS sentiment, p.sentiment_label AS sentiment_label, p.topic_id AS topic_id,
       p.{{post_text}} AS text
