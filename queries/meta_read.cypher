// graphsona's bookkeeping in the store (load state, data version): key/value nodes.
MATCH (m:GraphsonaMeta) RETURN m.key AS key, m.value AS value
