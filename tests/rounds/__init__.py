"""Tests of rounds and the checklist."""
