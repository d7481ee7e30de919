// New vector rows from a frame (user_id, value); the users have none (deleted just before).
LOAD FROM $frame
CREATE (v:{{table}} {user_id: user_id, value: value})
