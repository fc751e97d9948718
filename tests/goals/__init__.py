"""Tests of the goals and the annual report."""
