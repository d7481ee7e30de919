MATCH (v:{{table}}) RETURN v.user_id AS user_id, v.value AS value
