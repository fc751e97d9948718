"""Tests of governance: the audit log, retention and backups."""
