// Set graphsona's bookkeeping values; $rows: [{key, value}] (strings).
UNWIND $rows AS r
MERGE (m:GraphsonaMeta {key: r.key})
SET m.value = r.value
