"""Benchmark task definitions by family; `tasks` registers them."""
