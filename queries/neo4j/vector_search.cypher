CALL db.index.vector.queryNodes($index, $k, $vector) YIELD node, score
RETURN toString(node.{{user_id}}) AS user_id, score
