"""Tests of operations: the scheduler, the demo, readiness, migrations, benchmarks."""
