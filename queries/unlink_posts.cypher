// The links of one type from the given posts to one of graphsona's nodes; $posts: [post id].
UNWIND $posts AS pid
MATCH (p:{{post_label}} {{{post_id}}: pid})-[r:{{rel}}]->(:{{label}})
DELETE r
