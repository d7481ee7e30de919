CREATE NODE TABLE IF NOT EXISTS {{table}}(user_id STRING PRIMARY KEY, value FLOAT[{{!dimensions}}])
