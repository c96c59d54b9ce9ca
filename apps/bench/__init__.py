"""Benchmarks run by `gamemetrics bench`: a cheap load generator, baselines and reports.

Not tests: they measure this machine. `ingest.py` drives the ingestion API;
`pipeline.py` drives the whole path to PostgreSQL with unique event ids
(`unique.py`), reusing `loadgen`, `platform`, `procstat` and `report`.
`experiments/` holds the smaller measurements behind single design choices,
each run on its own as `python -m apps.bench.experiments.NAME`.
"""
