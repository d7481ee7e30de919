"""What users read from an enriched store: recommendations, similar users, summaries and
profile cards, Parquet exports and the HTML report."""
