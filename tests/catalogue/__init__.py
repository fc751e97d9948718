"""Tests of the standards' catalogues and their drafts."""
