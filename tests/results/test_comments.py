"""The committee reads the comments of a closed round: no name or section, small groups (and
the siblings that would give them away) hidden, shuffled, hideable; nothing before the close.

World (MIN_GROUP_SIZE 5), one ward 高津区, standard std-1 answered by everyone with a comment:
  区民サービス部: 区民課 6 staff, 保険年金課 5 staff;  まちづくり推進部: 総務課 3 staff.
  ward 14 -> shown;  総務課 3 -> hidden; まちづくり推進部 (3) hidden; so 区民サービス部 is hidden
  too (else ward − 区民サービス部 = 総務課), and then 保険年金課 (else 区民サービス部 − 区民課 ...).
  区民課 6 -> shown.
"""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from flask import g
from openpyxl import load_workbook

from app.extensions import db
from app.models import Grant, GrantRole, HiddenComment
from app.services.results.comments import group_comments
from app.services.results.compliance import ResultsNotFinal, final_results, round_results
from tests import factories

NOW = datetime.now(UTC)


def _world(closed: bool = True) -> dict[str, Any]:
    catalogue = factories.catalogue("c-2025", fiscal_year=2025, standards=2)
    kumin = factories.section("区民課")
    hoken = factories.section("保険年金課")
    soumu = factories.section("総務課", department="まちづくり推進部")
    round_ = factories.round_(
        catalogue,
        opens_at=NOW - timedelta(days=30),
        closes_at=NOW - timedelta(days=1) if closed else NOW + timedelta(days=1),
    )
    names: list[str] = []
    texts: list[str] = []
    for section, count in ((kumin, 6), (hoken, 5), (soumu, 3)):
        for index in range(count):
            person = factories.person(section=section, name=f"山田{section.name}{index}")
            names.append(person.name)
            text = f"{section.name}の声{index}" if section is soumu else f"声{section.id}-{index}"
            texts.append(text)
            factories.response(
                round_, person, {"std-1": "yes", "std-2": "no"}, section=section,
                comments={"std-1": text},
                submitted_at=NOW - timedelta(days=20 - len(texts)),
            )
    member = factories.person(name="委員")
    member.grants.append(Grant(role=GrantRole.COMMITTEE))
    db.session.commit()
    return {
        "round": round_.id, "member": member.id, "names": names, "texts": texts,
        "kumin": kumin.id, "hoken": hoken.id, "soumu": soumu.id,
    }


def _texts(view) -> list[str]:
    return [c.text for s in view.standards for c in s.comments]


def test_no_comments_before_the_close(app_ctx, client, sign_in):
    """While the round is open the service refuses, the page and the xlsx answer 409."""
    world = _world(closed=False)
    results = round_results(world["round"])
    with pytest.raises(ResultsNotFinal):
        group_comments(results, results.top.key)
    sign_in(world["member"])
    assert client.get(f"/results/rounds/{world['round']}/comments").status_code == 409
    assert client.get(f"/results/rounds/{world['round']}/comments.xlsx").status_code == 409


def test_comments_shown_only_in_groups_large_enough_and_not_given_away(app_ctx):
    """The ward shows all 14 comments; 区民課 (6) its own; 総務課 (3) none, and neither do the
    groups that would give it away by difference (both departments, 保険年金課)."""
    world = _world()
    results = final_results(world["round"])
    db.session.commit()
    whole = group_comments(results, results.top.key)
    assert sorted(_texts(whole)) == sorted(world["texts"])
    std2 = next(s for s in whole.standards if s.standard.key == "std-2")
    assert std2.shown and std2.comments == ()
    kumin = group_comments(results, f"section:{world['kumin']}")
    assert len(_texts(kumin)) == 6 and kumin.standards[0].shown
    for key in (f"section:{world['soumu']}", f"section:{world['hoken']}"):
        view = group_comments(results, key)
        assert _texts(view) == [] and not view.standards[0].shown, key
    for group in results.groups:
        if group.level == "department":
            assert _texts(group_comments(results, group.key)) == [], group.name


def test_comments_do_not_follow_submit_order_and_read_the_same_twice(app_ctx):
    """The order is neither the order of submitting nor its reverse, and it is stable."""
    world = _world()
    results = final_results(world["round"])
    first = _texts(group_comments(results, results.top.key))
    assert first != world["texts"] and first != list(reversed(world["texts"]))
    assert _texts(group_comments(final_results(world["round"]), results.top.key)) == first


def test_no_name_or_section_in_the_page_or_the_xlsx(app_ctx, client, sign_in):
    """Neither the comments on the page nor the xlsx carry a person's name, a section or a
    role; the page's handles are not the answers' ids."""
    world = _world()
    sign_in(world["member"])
    page = client.get(f"/results/rounds/{world['round']}/comments")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    listing = html.split('id="comments-heading"', 1)[1]
    for word in [*world["names"], "区民課", "保険年金課", "所属長", "職員"]:
        assert word not in listing, word
    assert 'name="token" value="' in listing
    assert all(len(t.split('"')[0]) == 24 for t in listing.split('name="token" value="')[1:])
    download = client.get(f"/results/rounds/{world['round']}/comments.xlsx")
    assert download.status_code == 200
    sheet = load_workbook(io.BytesIO(download.data)).worksheets[0]
    cells = [str(c) for row in sheet.iter_rows(values_only=True) for c in row if c is not None]
    assert sum(1 for c in cells if c in world["texts"]) == 14
    for word in [*world["names"], "区民課", "保険年金課", "総務課", "所属長"]:
        assert not any(word in c for c in cells if c not in world["texts"]), word


def test_the_committee_hides_a_comment_for_everyone(app_ctx, client, sign_in):
    """A hidden comment leaves the page and the xlsx and is counted as hidden; an unknown
    handle is a 404 and writes nothing."""
    world = _world()
    sign_in(world["member"])
    url = f"/results/rounds/{world['round']}/comments"
    html = client.get(url).get_data(as_text=True)
    token = html.split('name="token" value="')[1].split('"')[0]
    hidden_text = html.split('class="comment-text">')[1].split("<")[0]
    done = client.post(f"{url}/hide", data={"token": token, "group": "all"})
    assert done.status_code == 302
    assert db.session.scalar(sa.select(sa.func.count()).select_from(HiddenComment)) == 1
    g.pop("_login_user", None)
    after = client.get(url).get_data(as_text=True)
    assert hidden_text not in after and "委員会が隠したコメント：1件" in after
    sheet = load_workbook(io.BytesIO(client.get(f"{url}.xlsx").data)).worksheets[0]
    assert hidden_text not in [c for row in sheet.iter_rows(values_only=True) for c in row]
    from app.models import AuditEvent

    downloads = db.session.scalars(
        sa.select(AuditEvent).where(AuditEvent.action == "results.download")
    ).all()
    assert [(d.target_id, "comments.xlsx" in (d.after or "")) for d in downloads] == [
        (str(world["round"]), True)
    ]
    refused = client.post(f"{url}/hide", data={"token": "0" * 24, "group": "all"})
    assert refused.status_code == 404
    assert db.session.scalar(sa.select(sa.func.count()).select_from(HiddenComment)) == 1
    (event,) = db.session.scalars(
        sa.select(AuditEvent).where(AuditEvent.action == "comment.hide")
    ).all()
    assert (event.action, event.actor_id) == ("comment.hide", world["member"])
    assert hidden_text not in (event.after or "") and token in (event.after or "")


def test_the_checklist_says_who_reads_the_comments(app_ctx, client, sign_in):
    """The checklist page says the committee reads comments after the close, without names."""
    catalogue = factories.catalogue("c-2025", fiscal_year=2025, standards=1)
    section = factories.section("区民課")
    person = factories.person(section=section)
    round_ = factories.round_(catalogue)
    db.session.commit()
    sign_in(person)
    html = client.get(f"/rounds/{round_.id}/checklist").get_data(as_text=True)
    assert 'id="who-reads-comments"' in html and "サービス推進委員会" in html


def test_the_page_lists_only_the_standards_with_comments_unless_asked(app_ctx, client, sign_in):
    """By default only the standards with comments are listed, each with its count (std-1:
    14); 「すべての基準を表示」 (?all=1) lists every standard, std-2's 「コメントはありません」
    too. In a group too small to be shown nothing is listed, and ?all=1 says why, never a
    comment."""
    world = _world()
    sign_in(world["member"])
    url = f"/results/rounds/{world['round']}/comments"
    html = client.get(url).get_data(as_text=True)
    assert 'id="c-std-1"' in html and 'id="c-std-2"' not in html
    assert '<span class="comment-count">コメント 14件</span>' in html
    assert "コメントはありません。" not in html
    assert "（1 / 2 基準）" in html
    assert f'href="{url}?group=all&amp;all=1">すべての基準を表示</a>' in html
    every = client.get(f"{url}?group=all&all=1").get_data(as_text=True)
    assert 'id="c-std-1"' in every and 'id="c-std-2"' in every
    assert "コメントはありません。" in every and "すべての基準（2）を表示しています。" in every
    assert f'href="{url}?group=all">コメントのある基準だけを表示</a>' in every
    assert 'name="all" value="1"' in every  # the group form and the hide buttons keep it
    small = client.get(f"{url}?group=section:{world['soumu']}").get_data(as_text=True)
    assert 'id="c-std-1"' not in small and "表示できるコメントはありません。" in small
    small_all = client.get(f"{url}?group=section:{world['soumu']}&all=1").get_data(as_text=True)
    assert "人未満のため" in small_all and "コメント 3件" not in small_all
    assert not any(text in small + small_all for text in world["texts"] if "総務課" in text)


def test_hiding_a_comment_keeps_the_chosen_view(app_ctx, client, sign_in):
    """A comment hidden from the view of every standard leads back to that view."""
    world = _world()
    sign_in(world["member"])
    url = f"/results/rounds/{world['round']}/comments"
    html = client.get(f"{url}?all=1").get_data(as_text=True)
    token = html.split('name="token" value="')[1].split('"')[0]
    done = client.post(f"{url}/hide", data={"token": token, "group": "all", "all": "1"})
    assert done.headers["Location"] == f"{url}?group=all&all=1"
    done = client.post(f"{url}/hide", data={"token": token, "group": "all"})
    assert done.headers["Location"] == f"{url}?group=all"
