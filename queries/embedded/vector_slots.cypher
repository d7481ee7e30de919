// A vector table's live rows and the slots its file holds (deleted rows keep theirs).
MATCH (v:{{table}})
RETURN count(*) AS live, coalesce(max(offset(id(v))) + 1, 0) AS slots
