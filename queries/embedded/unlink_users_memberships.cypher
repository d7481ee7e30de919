UNWIND $users AS uid
MATCH (u:{{user_label}} {{{user_id}}: uid})-[old:{{membership_rel}}]->(:{{community_label}})
DELETE old
