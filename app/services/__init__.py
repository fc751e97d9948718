"""Rules of the domain: typed functions that change state but never commit."""
