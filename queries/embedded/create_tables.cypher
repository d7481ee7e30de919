CREATE NODE TABLE IF NOT EXISTS {{post_label}}({{post_id}} STRING PRIMARY KEY, {{post_text}} STRING, {{post_created_at}} TIMESTAMP, lang STRING);
CREATE REL TABLE IF NOT EXISTS {{post_rel}}(FROM {{user_label}} TO {{post_label}});
CREATE REL TABLE IF NOT EXISTS {{follows}}(FROM {{user_label}} TO {{user_label}}, created_at TIMESTAMP);
CREATE REL TABLE IF NOT EXISTS {{interacts}}(FROM {{user_label}} TO {{user_label}}, {{kind}} STRING, {{weight}} DOUBLE, count INT64, created_at TIMESTAMP, last_at TIMESTAMP);
CREATE NODE TABLE IF NOT EXISTS {{community_label}}(community_id INT64 PRIMARY KEY);
CREATE REL TABLE IF NOT EXISTS {{membership_rel}}(FROM {{user_label}} TO {{community_label}});
CREATE NODE TABLE IF NOT EXISTS GraphsonaMeta(key STRING PRIMARY KEY, value STRING);
