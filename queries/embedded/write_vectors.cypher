LOAD FROM $frame
MATCH (v:{{table}} {user_id: user_id})
SET v.value = value
