"""Tests of the results: counts, compliance, the city, comments, exports, published tables."""
