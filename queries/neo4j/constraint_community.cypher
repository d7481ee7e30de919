CREATE CONSTRAINT IF NOT EXISTS FOR (n:{{community_label}}) REQUIRE n.community_id IS UNIQUE
