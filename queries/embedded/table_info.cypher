CALL table_info({{'table'}}) RETURN name, type
