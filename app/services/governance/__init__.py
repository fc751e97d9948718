"""Governance: the audit log, retention of personal data and backups."""
