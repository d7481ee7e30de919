// Existing interactions out of the given users: an upsert of a few users' links reads only theirs.
// $sources: [user id]
UNWIND $sources AS s
MATCH (a:{{user_label}} {{{user_id}}: s})-[i:{{rel}}]->(b:{{user_label}})
RETURN a.{{user_id}} AS src, b.{{user_id}} AS dst, i.{{kind}} AS kind, i.{{weight}} AS weight,
       i.count AS count, i.created_at AS created_at, i.last_at AS last_at
