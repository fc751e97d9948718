"""`/readyz` answers 503 while the database (or the read replica) cannot be reached and 200
again once it is back; `/healthz` stays 200 throughout."""

from __future__ import annotations

import os
import socket
import threading
from pathlib import Path

import pytest
import sqlalchemy as sa

from app import create_app
from app.extensions import db

PG_URL = os.environ.get("KIJUN_TEST_DATABASE_URL")


class Forwarder:
    """A TCP port on 127.0.0.1 that forwards to the PostgreSQL server while it is started:
    stopping it is, for the app, the database going down (new connections are refused)."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.listener: socket.socket | None = None
        self.connections: list[socket.socket] = []

    def start(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(16)
        self.listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def stop(self) -> None:
        if self.listener is not None:
            # shutdown wakes the thread blocked in accept(), which holds the socket open
            self.listener.shutdown(socket.SHUT_RDWR)
            self.listener.close()
            self.listener = None
        for conn in self.connections:
            conn.close()
        self.connections.clear()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            server = socket.create_connection(self.target)
            self.connections += [client, server]
            for a, b in ((client, server), (server, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for s in (source, sink):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass


@pytest.fixture
def forwarder():
    if not PG_URL:
        pytest.skip("a PostgreSQL server to stop and start")
    url = sa.engine.make_url(PG_URL)
    fwd = Forwarder(url.host or "127.0.0.1", url.port or 5432)
    fwd.start()
    yield fwd
    fwd.stop()


def _through(fwd: Forwarder) -> str:
    assert PG_URL is not None  # the forwarder fixture skips without PostgreSQL
    url = sa.engine.make_url(PG_URL).set(host="127.0.0.1", port=fwd.port)
    return url.render_as_string(hide_password=False)


def _app(database_url: str, **settings):
    return create_app(
        {"TESTING": True, "SQLALCHEMY_DATABASE_URI": database_url, **settings}
    )


def test_readyz_is_200_with_the_database_up(client):
    """With the database reachable and its schema there, /readyz answers 200."""
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.get_data(as_text=True) == "database: ok\n"
    assert response.headers["Cache-Control"] == "no-store"


def test_readyz_turns_503_while_the_sqlite_file_is_gone_and_200_after(tmp_path):
    """SQLite: /readyz is 503 while the database file is unreachable (moved away, not
    recreated empty), 200 once it is back; /healthz is 200 throughout."""
    path = tmp_path / "live.sqlite3"
    app = _app(f"sqlite:///{path}")
    with app.app_context():
        db.create_all()
        db.engine.dispose()
    client = app.test_client()
    assert client.get("/readyz").status_code == 200

    aside = tmp_path / "aside"
    aside.mkdir()
    for file in tmp_path.glob("live.sqlite3*"):
        file.rename(aside / file.name)
    down = client.get("/readyz")
    assert down.status_code == 503
    assert down.get_data(as_text=True) == "database: unavailable\n"
    assert not path.exists()
    assert client.get("/healthz").status_code == 200

    for file in aside.iterdir():
        file.rename(tmp_path / file.name)
    assert client.get("/readyz").status_code == 200


def test_readyz_turns_503_while_postgresql_is_stopped_and_200_after(app, forwarder):
    """PostgreSQL: /readyz is 503 while the server cannot be reached, 200 when it is back."""
    client = _app(_through(forwarder)).test_client()
    assert client.get("/readyz").status_code == 200
    forwarder.stop()
    assert client.get("/readyz").status_code == 503
    assert client.get("/healthz").status_code == 200
    forwarder.start()
    assert client.get("/readyz").status_code == 200


def test_readyz_turns_503_while_the_read_replica_is_down(app, forwarder):
    """With REPORTS_DATABASE_URL set, /readyz is 503 while the replica cannot be reached."""
    assert PG_URL is not None  # the forwarder fixture skips without PostgreSQL
    client = _app(PG_URL, REPORTS_DATABASE_URL=_through(forwarder)).test_client()
    assert client.get("/readyz").get_data(as_text=True) == "database: ok\nreplica: ok\n"
    forwarder.stop()
    down = client.get("/readyz")
    assert down.status_code == 503
    assert down.get_data(as_text=True) == "database: ok\nreplica: unavailable\n"
    forwarder.start()
    assert client.get("/readyz").status_code == 200


def test_readyz_gives_up_on_an_unanswering_server(app, tmp_path: Path):
    """A server that accepts the connection but never answers yields 503 after the timeout,
    not a hanging request."""
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(4)
    port = silent.getsockname()[1]
    try:
        url = f"postgresql+psycopg://postgres@127.0.0.1:{port}/kijun"
        client = _app(
            f"sqlite:///{tmp_path / 'x.sqlite3'}",
            REPORTS_DATABASE_URL=url,
            READINESS_TIMEOUT_SECONDS=1,
        ).test_client()
        assert client.get("/readyz").status_code == 503
    finally:
        silent.close()
