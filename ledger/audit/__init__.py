"""Finance's view: replay the log straight from PostgreSQL, verify it, report on it."""
