// Remove the recommendations of the users in $users (list of ids) before writing new ones.
UNWIND $users AS uid
MATCH (u:{{user_label}} {{{user_id}}: uid})-[old:{{recommended_rel}}]->()
DELETE old
