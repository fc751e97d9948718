"""Organisation: the roster, its upload, people and their granted roles."""
