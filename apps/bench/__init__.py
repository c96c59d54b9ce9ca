"""Benchmarks run by `gamemetrics bench`: a cheap load generator, baselines and reports.

Not tests: they measure this machine. `ingest.py` drives the ingestion API;
later benchmarks (the pipeline) reuse `loadgen`, `platform` and `report`.
"""
