MATCH (u:{{user_label}})
RETURN u.*
