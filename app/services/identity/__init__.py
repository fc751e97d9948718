"""Identity: signing in, passwords and the directory (LDAP)."""
