CREATE NODE TABLE IF NOT EXISTS {{table}}({{key}} {{!type}} PRIMARY KEY)
