// Erasure: every alert's published texts, drivers (user ids) and sample posts (ids, texts).
MATCH (a:{{alert_label}})
RETURN a.alert_id AS alert_id, a.summary AS summary, a.terms AS terms, a.drivers AS drivers,
       a.sample_posts AS sample_posts, a.sample_texts AS sample_texts
