"""Results: counts, compliance, the city, comments, exports, published tables, actions."""
