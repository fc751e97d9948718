"""Tests of the organisation: the roster, its upload, people, and reading sheets."""
