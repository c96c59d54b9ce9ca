"""PostgreSQL: the schema (migrations) and the repositories that read and write it."""
