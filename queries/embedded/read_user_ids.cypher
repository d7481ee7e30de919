MATCH (u:{{user_label}})
RETURN u.{{user_id}} AS user_id
