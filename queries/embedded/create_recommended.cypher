CREATE REL TABLE IF NOT EXISTS {{recommended_rel}}(FROM {{user_label}} TO {{user_label}}, score DOUBLE, rank INT64)
