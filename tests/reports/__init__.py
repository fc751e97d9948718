"""Tests of reports/: the pure builders, without an app."""
