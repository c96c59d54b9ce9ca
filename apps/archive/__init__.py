"""The raw-event archive on S3: its Parquet files, their checksums and the objects that
hold them (the format itself is declared in apps/core/archive.py)."""
