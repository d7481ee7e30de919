ALTER TABLE {{table}} ADD IF NOT EXISTS {{column}} {{!type}}
