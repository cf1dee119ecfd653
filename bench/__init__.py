"""Benchmarks (not tests): each module runs on its own, e.g. `.venv/bin/python -m bench.ingest`.

Results are appended to docs/BENCHMARKS.md by hand, with the machine, date and command.
"""
