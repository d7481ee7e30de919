UNWIND $users AS uid
MATCH (u:{{user_label}} {{{user_id}}: uid})-[old:{{recommended_rel}}]->()
DELETE old
