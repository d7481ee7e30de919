UNWIND $rows AS r
MERGE (c:{{community_label}} {community_id: r.id})
SET c += r.props
