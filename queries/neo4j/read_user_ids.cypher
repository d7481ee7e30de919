MATCH (u:{{user_label}})
RETURN toString(u.{{user_id}}) AS user_id
