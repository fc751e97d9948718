"""Tests in a real browser (Debian's chromium): pages, journeys and accessibility."""
