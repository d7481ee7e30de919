// Existing follows out of the given users: an upsert of a few users' links reads only theirs.
// $sources: [user id]
UNWIND $sources AS s
MATCH (a:{{user_label}} {{{user_id}}: s})-[f:{{rel}}]->(b:{{user_label}})
RETURN a.{{user_id}} AS src, b.{{user_id}} AS dst, f.created_at AS created_at
