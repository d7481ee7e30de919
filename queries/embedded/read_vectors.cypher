MATCH (u:{{user_label}})
WHERE u.{{property}} IS NOT NULL
RETURN u.{{user_id}} AS user_id, u.{{property}} AS vector
