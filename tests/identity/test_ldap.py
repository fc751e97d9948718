"""Directory sign-in against a real OpenLDAP server (Debian's slapd, started here on 127.0.0.1):
the employee number and directory password sign in, a wrong password fails and is throttled
like a local one, roles still come from the roster and grants
(app/services/identity/directory.py)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import ldap3
import pytest

from app.extensions import db
from app.models import Grant, GrantRole, Role
from app.services.identity.directory import bind_name
from tests import factories
from tests.browser_support import in_ci

SUFFIX = "dc=city,dc=test"
ROOT_DN = f"cn=admin,{SUFFIX}"
ROOT_PW = "slapd-root-secret"
TEMPLATE = "uid={employee_id},ou=people," + SUFFIX
SLAPD = shutil.which("slapd") or "/usr/sbin/slapd"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def slapd(tmp_path_factory) -> Iterator[str]:
    """slapd on 127.0.0.1 with ou=people and two accounts; yields its URL."""
    if not os.access(SLAPD, os.X_OK):
        if in_ci():
            pytest.fail("slapd is missing (bash .ci/test installs Debian's slapd)")
        pytest.skip("slapd is not installed (apt-get install slapd)")
    home = tmp_path_factory.mktemp("slapd")
    (home / "db").mkdir()
    conf = home / "slapd.conf"
    conf.write_text(
        "\n".join([
            *(f"include /etc/ldap/schema/{name}.schema"
              for name in ("core", "cosine", "inetorgperson", "nis")),
            f"pidfile {home / 'slapd.pid'}",
            "modulepath /usr/lib/ldap",
            "moduleload back_mdb",
            "database mdb",
            f'suffix "{SUFFIX}"',
            f'rootdn "{ROOT_DN}"',
            f"rootpw {ROOT_PW}",
            f"directory {home / 'db'}",
            "access to attrs=userPassword by anonymous auth by self write by * none",
            "access to * by * read",
            "",
        ])
    )
    port = _free_port()
    url = f"ldap://127.0.0.1:{port}"
    log = (home / "slapd.log").open("wb")
    process = subprocess.Popen(
        [SLAPD, "-f", str(conf), "-h", url + "/", "-d", "0"], stdout=log, stderr=log
    )
    try:
        _wait_and_fill(url, port, process, home / "slapd.log")
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)
        log.close()


def _wait_and_fill(url: str, port: int, process: subprocess.Popen[bytes], log: Path) -> None:
    for _ in range(200):
        if process.poll() is not None:
            raise RuntimeError(f"slapd stopped: {log.read_text(errors='replace')}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            time.sleep(0.05)
    else:
        raise RuntimeError("slapd did not answer")
    connection = ldap3.Connection(url, user=ROOT_DN, password=ROOT_PW, auto_bind=True)
    connection.add(SUFFIX, ["dcObject", "organization"], {"o": "city", "dc": "city"})
    connection.add(f"ou=people,{SUFFIX}", ["organizationalUnit"], {"ou": "people"})
    for uid, password in (("100001", "windows-pass-1"), ("100009", "windows-pass-9")):
        connection.add(
            bind_name(TEMPLATE, uid), ["inetOrgPerson"],
            {"uid": uid, "cn": uid, "sn": uid, "userPassword": password},
        )
    connection.unbind()


@pytest.fixture
def directory_app(app, slapd):
    """The app signing in against slapd; 100001 (a chief, also admin) and 100002 (on the roster,
    not in the directory) in Kijun; 100009 in the directory but not on the roster."""
    app.config.update(AUTH_LDAP_URL=slapd, AUTH_LDAP_BIND_TEMPLATE=TEMPLATE,
                      LOGIN_MAX_FAILURES_PER_ACCOUNT=3)
    with app.app_context():
        section = factories.section("総務課")
        chief = factories.person(section=section, role=Role.CHIEF, fiscal_year=2026,
                                 employee_id="100001")
        chief.grants.append(Grant(role=GrantRole.ADMIN, ward_id=section.ward_id))
        factories.person(section=section, fiscal_year=2026, employee_id="100002")
        db.session.commit()
    return app


def _login(client, employee_id: str, password: str):
    return client.post("/auth/login", data={"employee_id": employee_id, "password": password})


def test_directory_password_signs_in_with_roles_from_kijun(directory_app, client):
    """The directory's password signs in; the admin pages open (the grant is Kijun's)."""
    response = _login(client, "100001", "windows-pass-1")
    assert response.status_code == 302
    assert client.get("/admin/rounds").status_code == 200


def test_a_wrong_directory_password_fails_and_is_throttled(directory_app, client):
    """Wrong passwords fail (401-page 200 with the error), then the account is throttled (429)
    and even the right password is not checked."""
    for _ in range(3):
        response = _login(client, "100001", "wrong-password")
        assert "正しくありません" in response.get_data(as_text=True)
    assert _login(client, "100001", "windows-pass-1").status_code == 429


def test_an_empty_password_is_never_an_anonymous_bind(directory_app, client):
    """LDAP accepts an unauthenticated bind; the sign-in refuses an empty password itself."""
    from app.services.identity.directory import directory_bind

    with directory_app.app_context():
        assert directory_bind(directory_app.config, "100001", "") is False
    assert _login(client, "100001", "").status_code != 302


def test_only_people_on_kijuns_roster_sign_in(directory_app, client):
    """In the directory but unknown to Kijun: refused; in Kijun but not in the directory:
    refused (no local password is tried)."""
    assert _login(client, "100009", "windows-pass-9").status_code == 200
    assert _login(client, "100002", "anything-at-all").status_code == 200


def test_the_employee_id_cannot_inject_into_the_dn(directory_app):
    """A comma or an equals sign in the id is escaped, not a new DN part."""
    assert bind_name(TEMPLATE, "1,ou=x").startswith("uid=1\\,ou\\=x,ou=people")
    assert bind_name("{employee_id}@city.local", "100001") == "100001@city.local"


def test_an_unreachable_directory_is_a_failed_sign_in(app, client):
    """No server on the port: a failed sign-in, not a 500."""
    app.config.update(AUTH_LDAP_URL=f"ldap://127.0.0.1:{_free_port()}",
                      AUTH_LDAP_BIND_TEMPLATE=TEMPLATE, AUTH_LDAP_TIMEOUT_SECONDS=1)
    with app.app_context():
        factories.person(employee_id="100001")
        db.session.commit()
    assert _login(client, "100001", "windows-pass-1").status_code == 200


