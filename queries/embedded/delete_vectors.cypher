// The vector rows of the frame's users (user_id), before their new values are appended.
LOAD FROM $frame
MATCH (v:{{table}} {user_id: user_id})
DELETE v
