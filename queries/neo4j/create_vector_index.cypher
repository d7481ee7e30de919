CREATE VECTOR INDEX {{index}} IF NOT EXISTS
FOR (u:{{user_label}}) ON u.{{property}}
OPTIONS {indexConfig: {`vector.dimensions`: {{!dimensions}}, `vector.similarity_function`: 'cosine'}}
