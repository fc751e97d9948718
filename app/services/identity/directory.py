"""Directory sign-in: the employee number and the Windows password checked by an LDAP simple
bind against Active Directory (or OpenLDAP), with ldap3 (docs/auth.md, "Directory sign-in").

Only the password check moves to the directory: who may sign in (a person on Kijun's roster,
not blocked) and their roles (roster and grants) stay Kijun's, and the throttling is the same
as for local passwords (``app.services.identity.auth.check_sign_in`` calls ``directory_bind``).
"""

from __future__ import annotations

import ssl
from collections.abc import Mapping
from typing import Any

import ldap3
from ldap3.core.exceptions import LDAPException
from ldap3.utils.dn import escape_rdn


def directory_enabled(config: Mapping[str, Any]) -> bool:
    return bool(config.get("AUTH_LDAP_URL"))


def bind_name(template: str, employee_id: str) -> str:
    """The account to bind as: the template with the employee id, escaped where the template
    is a DN (``uid={employee_id},...``) so that the id cannot add DN parts."""
    value = escape_rdn(employee_id) if "=" in template else employee_id
    return template.replace("{employee_id}", value)


def directory_bind(config: Mapping[str, Any], employee_id: str, password: str) -> bool:
    """Whether the directory accepts this employee id and password (a simple bind).

    An empty password is refused before asking: LDAP treats a bind without a password as an
    anonymous ("unauthenticated") bind that succeeds. A directory that cannot be reached
    counts as a refusal (logged by the caller as a failed sign-in).
    """
    if not employee_id or not password:
        return False
    url = str(config["AUTH_LDAP_URL"])
    timeout = max(1, int(config.get("AUTH_LDAP_TIMEOUT_SECONDS", 5)))  # ldap3 packs an int
    tls = ldap3.Tls(validate=ssl.CERT_REQUIRED) if url.startswith("ldaps://") else None
    server = ldap3.Server(url, connect_timeout=timeout, tls=tls, get_info=ldap3.NONE)
    user = bind_name(str(config.get("AUTH_LDAP_BIND_TEMPLATE", "{employee_id}")), employee_id)
    connection = ldap3.Connection(
        server, user=user, password=password, receive_timeout=timeout, read_only=True
    )
    try:
        return bool(connection.bind())
    except LDAPException:
        return False
    finally:
        try:
            connection.unbind()
        except LDAPException:
            pass
        if connection.socket is not None:  # a failed open leaves its socket to the caller
            connection.socket.close()
