"""City-scale benchmarks (docs/benchmarks.md): run them all with ``bash bench/run``."""
