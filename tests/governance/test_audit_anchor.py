"""Attacks on the audit log by someone who can write the database but has not the audit key:
cutting its end, emptying it, appending or rewriting rows with recomputed hashes. The key
(each row's HMAC) and the anchor written outside the database after each commit find them all
(app/services/governance/audit_anchor.py, docs/audit.md)."""

from __future__ import annotations

import json
import logging
import os
import stat
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from app.cli.audit import MESSAGES
from app.extensions import db
from app.models import AuditEvent
from app.services.governance import audit
from app.services.governance.audit_anchor import KEY_LABEL, audit_key, row_mac


def _rows() -> list[AuditEvent]:
    return list(db.session.scalars(sa.select(AuditEvent).order_by(AuditEvent.id)))


def _reasons() -> list[str]:
    return [problem.reason for problem in audit.verify_chain()]


def _anchor(app) -> dict[str, object]:
    anchor: dict[str, object] = json.loads(
        Path(app.config["AUDIT_ANCHOR_PATH"]).read_text(encoding="utf-8")
    )
    return anchor


def _write(count: int, start: int = 0) -> None:
    """``count`` rows through the app, committed one by one (each commit writes the anchor)."""
    for n in range(start, start + count):
        audit.record("round.update", actor=None, target_type="round", target_id=n,
                     after={"title": f"題{n}"})
        db.session.commit()


def _forge(prev_hash: str, target_id: str, *, mac: str | None = None,
           seq: int | None = None) -> dict[str, object]:
    """The values of a row as an attacker without the key makes it: every field, the chain's
    plain SHA-256 recomputed, and whatever mac they like."""
    fields = {"at": datetime.now(UTC), "actor_id": None, "actor_employee_id": None,
              "address": None, "action": "round.update", "target_type": "round",
              "target_id": target_id, "ward_id": None, "before": None, "after": None}
    digest = audit.row_hash(fields, prev_hash)
    return {**fields, "prev_hash": prev_hash, "hash": digest, "seq": seq, "mac": mac}


def test_an_intact_log_verifies_and_its_anchor_is_private_and_logged(app, runner, caplog):
    """Three commits: the anchor file (mode 0600) names the third row, each commit logs its
    anchor in the application log, and `audit verify` passes."""
    caplog.set_level(logging.INFO, logger="app.audit")
    with app.app_context():
        _write(3)
        rows = _rows()
        assert [r.seq for r in rows] == [1, 2, 3]
        assert all(r.mac == row_mac(r.seq or 0, r.hash, audit_key()) for r in rows)
    anchor = _anchor(app)
    assert (anchor["seq"], anchor["hash"], anchor["id"]) == (3, rows[2].hash, rows[2].id)
    mode = stat.S_IMODE(os.stat(app.config["AUDIT_ANCHOR_PATH"]).st_mode)
    assert mode == 0o600
    logged = [r.getMessage() for r in caplog.records if r.name == "app.audit"]
    assert logged[-1].startswith(f"audit anchor: seq=3 hash={rows[2].hash} id={rows[2].id} ")
    assert len(logged) == 3
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 0, result.output


def test_deleting_the_last_rows_is_found(app, runner):
    """Cutting the log's end (the last two rows) fails verify: the anchored row is gone."""
    with app.app_context():
        _write(4)
        last_two = [r.id for r in _rows()[-2:]]
        db.session.execute(sa.delete(AuditEvent).where(AuditEvent.id.in_(last_two)))
        db.session.commit()
        assert _reasons() == ["truncated"]
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 1
    assert MESSAGES["truncated"] in result.output


def test_rows_appended_after_a_cut_do_not_carry_the_anchor_past_it(app, caplog):
    """After the last two rows are deleted the app goes on appending, more rows than were cut:
    the anchor stays on the deleted row, so verify still finds the cut, and the application
    log says why the anchor did not move."""
    with app.app_context():
        _write(4)
        before = _anchor(app)
        last_two = [r.id for r in _rows()[-2:]]
        db.session.execute(sa.delete(AuditEvent).where(AuditEvent.id.in_(last_two)))
        db.session.commit()
        _write(3, start=10)
        assert _anchor(app) == before
        assert _reasons() == ["truncated"]
    refused = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert refused and "its end was cut" in refused[-1]


def test_deleting_every_row_is_found(app, runner):
    """An emptied log fails verify: the anchor names a row and there is none."""
    with app.app_context():
        _write(2)
        db.session.execute(sa.delete(AuditEvent))
        db.session.commit()
        assert _reasons() == ["emptied"]
    assert runner.invoke(args=["audit", "verify"]).exit_code == 1


def test_a_row_appended_with_a_recomputed_hash_is_found(app):
    """A row appended after the last one with the right prev_hash and a correct plain hash,
    but without the key: with no mac it is 'unsigned', with a made-up mac 'key'."""
    with app.app_context():
        _write(2)
        last = _rows()[-1]
        db.session.execute(sa.insert(AuditEvent).values(**_forge(last.hash, "forged")))
        db.session.commit()
        forged = _rows()[-1]
        assert [(p.event_id, p.reason) for p in audit.verify_chain()] == [
            (forged.id, "unsigned")]
        db.session.execute(sa.update(AuditEvent).where(AuditEvent.id == forged.id).values(
            seq=3, mac=row_mac(3, forged.hash, b"a guessed key")))
        db.session.commit()
        assert _reasons() == ["key"]


def test_rows_rewritten_with_recomputed_hashes_are_found(app):
    """An edited row whose hash, and every later row's link and hash, are recomputed keeps the
    chain whole, but not the key's macs: each rewritten row is named, and the anchored hash
    is no longer in the log."""
    with app.app_context():
        _write(3)
        rows = _rows()
        previous = rows[0].hash
        for row in rows[1:]:
            fields = {column: getattr(row, column) for column in audit.HASHED_FIELDS}
            fields["target_id"] = f"rewritten-{row.id}"
            digest = audit.row_hash(fields, previous)
            db.session.execute(sa.update(AuditEvent).where(AuditEvent.id == row.id).values(
                target_id=fields["target_id"], prev_hash=previous, hash=digest))
            previous = digest
        db.session.commit()
        assert [(p.event_id, p.reason) for p in audit.verify_chain()] == [
            (rows[1].id, "key"), (rows[2].id, "key"), (None, "truncated")]


def test_an_edited_row_is_found(app):
    """A value changed behind the app's back breaks the row's hash."""
    with app.app_context():
        _write(3)
        second = _rows()[1]
        db.session.execute(sa.update(AuditEvent).where(AuditEvent.id == second.id).values(
            after='{"title":"書き換え"}'))
        db.session.commit()
        assert [(p.event_id, p.reason) for p in audit.verify_chain()] == [(second.id, "hash")]


def test_a_rolled_back_row_leaves_the_anchor_where_it_was(app):
    """A transaction that appends a row and rolls back moves neither the file nor the log's
    end: verify passes, and the anchor still names the last committed row."""
    with app.app_context():
        _write(2)
        before = _anchor(app)
        audit.record("round.update", actor=None, target_type="round", target_id="gone")
        db.session.rollback()
        assert _anchor(app) == before
        _write(1, start=5)
        assert _anchor(app)["seq"] == 3
        assert _reasons() == []


def test_an_anchor_behind_the_log_is_accepted_but_not_one_ahead(app):
    """A process that died after its commit and before writing the anchor leaves it behind by
    rows that exist: verify accepts that. An anchor ahead of the log is a cut end."""
    with app.app_context():
        _write(1)
        path = Path(app.config["AUDIT_ANCHOR_PATH"])
        behind = path.read_text(encoding="utf-8")
        _write(2, start=1)
        ahead = path.read_text(encoding="utf-8")
        path.write_text(behind, encoding="utf-8")
        assert _reasons() == []
        path.write_text(ahead, encoding="utf-8")
        last = _rows()[-1]
        db.session.execute(sa.delete(AuditEvent).where(AuditEvent.id == last.id))
        db.session.commit()
        assert _reasons() == ["truncated"]


def test_an_edited_or_removed_anchor_is_found_and_never_overwritten(app):
    """An anchor file moved back by hand does not verify with the key; the next commit leaves
    it as evidence. A removed file, with signed rows in the log, fails verify too."""
    with app.app_context():
        _write(3)
        path = Path(app.config["AUDIT_ANCHOR_PATH"])
        edited = {**_anchor(app), "seq": 2}
        path.write_text(json.dumps(edited), encoding="utf-8")
        assert _reasons() == ["bad_anchor"]
        _write(1, start=3)
        assert _anchor(app) == edited
        path.unlink()
        assert _reasons() == ["no_anchor"]


def test_the_key_is_outside_the_database(app):
    """Rows signed with AUDIT_KEY verify whatever SECRET_KEY becomes, and fail with another
    AUDIT_KEY; without AUDIT_KEY the key is HMAC-SHA256(SECRET_KEY, the documented label)."""
    import hashlib
    import hmac

    with app.app_context():
        assert audit_key() == hmac.new(b"test-secret", KEY_LABEL, hashlib.sha256).digest()
        app.config["AUDIT_KEY"] = "a key kept in the server's own configuration"
        _write(2)
        app.config["SECRET_KEY"] = "rotated"
        assert _reasons() == []
        app.config["AUDIT_KEY"] = "another key"
        assert _reasons() == ["bad_anchor", "key", "key"]


def test_rows_written_before_the_key_are_verified_by_their_chain(app):
    """Rows of an older version (no seq, no mac) pass on their chain alone; the first signed
    row counts them (seq 3); an edit of an old row is still found, and so is an unsigned row
    after the signed ones."""
    with app.app_context():
        previous = audit.GENESIS
        for n in range(2):
            old = _forge(previous, f"old-{n}")
            db.session.execute(sa.insert(AuditEvent).values(**old))
            previous = str(old["hash"])
        db.session.commit()
        assert _reasons() == []
        _write(1)
        assert [r.seq for r in _rows()] == [None, None, 3]
        assert _anchor(app)["seq"] == 3
        assert _reasons() == []
        first = _rows()[0]
        db.session.execute(sa.update(AuditEvent).where(AuditEvent.id == first.id).values(
            target_id="changed"))
        db.session.commit()
        assert [(p.event_id, p.reason) for p in audit.verify_chain()] == [(first.id, "hash")]


@pytest.mark.parametrize("reason", audit.PROBLEMS)
def test_every_problem_has_a_message(reason):
    """`audit verify` says every problem verify_chain can find in words."""
    assert MESSAGES[reason]
