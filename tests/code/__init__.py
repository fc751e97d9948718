"""Tests of the code itself: its shape, types, translations and pinned packages."""
