// Alerts, most severe first: kind, window, summary, terms and the users driving each.
// params: limit:int=20
MATCH (a:{{alert_label}})
RETURN a.alert_id AS alert_id, a.kind AS kind, a.severity AS severity, a.score AS score,
       a.window_start AS window_start, a.window_end AS window_end,
       a.community_id AS community_id, a.topic_id AS topic_id, a.summary AS summary,
       a.terms AS terms, a.drivers AS drivers, a.sample_posts AS sample_posts
ORDER BY score DESC, alert_id
LIMIT $limit
