"""The employee's side: the checklist in the paper form's order with scene headings where they
fall, and the receipt after submitting, which shows the answers exactly as stored."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa

from app.extensions import db
from app.models import Answer, Catalogue, Response, Role, SectionAnswer, Ward
from app.services.catalogue.catalogues import load_catalogues
from tests import factories

ROOT = Path(__file__).resolve().parents[2]


def _takatsu_chief() -> tuple[int, int, Catalogue]:
    """An open FY2025 round of takatsu-2025 and the chief of a 庁舎管理担当課 in 高津区."""
    load_catalogues(ROOT / "surveys")
    catalogue = db.session.scalars(
        sa.select(Catalogue).where(Catalogue.key == "takatsu-2025")
    ).one()
    ward = db.session.scalars(sa.select(Ward).where(Ward.name == "高津区")).one()
    section = factories.section("総務課", kinds=("庁舎管理担当課", "研修担当課"))
    chief = factories.person(section=section, role=Role.CHIEF)
    round_ = factories.round_(catalogue, wards=[ward])
    db.session.commit()
    return round_.id, chief.id, catalogue


def test_the_checklist_follows_the_paper_forms_order_with_scene_headings(
    app_ctx, client, sign_in
):
    """A 高津区 chief's checklist lists 1-23, then the section's 24-28, then 高津区's own 31-33,
    as the published table does, and a scene heading stands wherever the scene changes."""
    round_id, chief, catalogue = _takatsu_chief()
    sign_in(chief)
    html = client.get(f"/rounds/{round_id}/checklist").get_data(as_text=True)
    numbers = [int(n) for n in re.findall(r'class="item-number">No\.(\d+)', html)]
    assert numbers == [*range(1, 29), 31, 32, 33]
    headings = re.findall(r'<h3 class="scene">場面：(.+?)</h3>', html)
    standards = {s.number: s for s in catalogue.standards}
    expected, previous = [], None
    for number in numbers:
        standard = standards[number]
        run = (standard.audience.value, standard.scene)  # a new part or a new scene
        if run != previous:
            expected.append(standard.scene)
        previous = run
    assert headings == expected
    assert len(headings) < len(numbers)  # headings only where the scene changes


def _submit_everything(client, round_id: int, html: str) -> dict[str, str]:
    keys = sorted(set(re.findall(r'name="([a-z0-9-]+)" type="radio"', html)))
    data = {key: ("no" if index % 3 == 0 else "yes") for index, key in enumerate(keys)}
    data[f"comment__{keys[0]}"] = "窓口の案内板が見えにくい"
    data["submit_answers"] = "提出する"
    return data


def test_the_receipt_after_submitting_matches_the_stored_answers(app_ctx, client, sign_in):
    """Submitting leads to the receipt, which shows every stored answer and comment, the
    section's answers too, and the stored submission time."""
    round_id, chief, _catalogue = _takatsu_chief()
    sign_in(chief)
    page = client.get(f"/rounds/{round_id}/checklist").get_data(as_text=True)
    data = _submit_everything(client, round_id, page)
    response = client.post(f"/rounds/{round_id}/checklist", data=data)
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/rounds/{round_id}/receipt")
    receipt = client.get(f"/rounds/{round_id}/receipt").get_data(as_text=True)

    stored = db.session.execute(
        sa.select(Response.id, Response.submitted_at).where(Response.round_id == round_id)
    ).one()
    shown: dict[str, str] = dict(
        re.findall(r'<tr id="receipt-([a-z0-9-]+)">.*?data-value="(\w*)"', receipt, re.S)
    )
    answers = {
        a.standard.key: (a.value.value, a.comment)
        for a in db.session.scalars(sa.select(Answer).where(Answer.response_id == stored.id))
    }
    answers.update(
        (a.standard.key, (a.value.value, a.comment))
        for a in db.session.scalars(
            sa.select(SectionAnswer).where(SectionAnswer.response_id == stored.id)
        )
    )
    assert shown == {key: value for key, (value, _c) in answers.items()}
    assert len(shown) == 31
    assert "窓口の案内板が見えにくい" in receipt
    submitted = stored.submitted_at.astimezone(UTC) + timedelta(hours=9)
    assert f"{submitted.month}月{submitted.day}日" in receipt
    assert f"{submitted.hour}時{submitted.minute:02d}分" in receipt or (
        f"{submitted.hour}時{submitted.minute}分" in receipt
    )


def test_no_receipt_before_submitting(app_ctx, client, sign_in):
    """Without a submitted response the receipt sends back to the checklist; a stranger's
    round is a 404."""
    round_id, chief, _catalogue = _takatsu_chief()
    sign_in(chief)
    response = client.get(f"/rounds/{round_id}/receipt")
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/rounds/{round_id}/checklist")
    assert client.get("/rounds/999999/receipt").status_code == 404


def test_an_optional_mail_copy_of_the_receipt(app_ctx, client, sign_in):
    """On request, one copy per submission is queued in the send ledger, and the message the
    scheduler renders lists the stored answers and the comment."""
    from app.models import MailLedger
    from app.services.operations import sending

    round_id, chief, _catalogue = _takatsu_chief()
    sign_in(chief)
    page = client.get(f"/rounds/{round_id}/checklist").get_data(as_text=True)
    client.post(f"/rounds/{round_id}/checklist", data=_submit_everything(client, round_id, page))
    assert 'id="receipt-mail"' in client.get(f"/rounds/{round_id}/receipt").get_data(as_text=True)
    assert client.post(f"/rounds/{round_id}/receipt/mail").status_code == 302
    assert client.post(f"/rounds/{round_id}/receipt/mail").status_code == 302
    rows = db.session.scalars(sa.select(MailLedger)).all()
    assert len(rows) == 1 and rows[0].kind.startswith("receipt:")
    (message,) = sending.render([rows[0].id], datetime.now(UTC))
    assert "【回答の控え】" in message.subject
    assert "窓口の案内板が見えにくい" in message.body
    words = {"yes": "できている", "no": "できていない", "na": "該当しない"}
    stored = db.session.scalars(sa.select(Answer)).all()
    assert stored
    for answer in stored:
        line = rf"^No\.{answer.standard.number} {words[answer.value.value]}( / .*)?$"
        assert re.search(line, message.body, re.M), line
