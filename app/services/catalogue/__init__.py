"""Catalogue: the service standards' catalogues, read from YAML and edited as drafts."""
