"""The data-retention service: raw events age out of PostgreSQL into the Parquet archive."""
