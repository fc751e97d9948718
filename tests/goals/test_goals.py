"""Service goals: chiefs' and committee's pages, working teams, the year plan, the lock, import."""

import re
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from openpyxl import Workbook

from app.extensions import db
from app.models import (
    Grant,
    GrantRole,
    Person,
    Role,
    Section,
    ServiceGoal,
    WorkingTeam,
    YearPlan,
)
from app.services.goals import goals as service
from app.services.goals import sheet as goal_sheet
from app.services.goals import teams as team_service
from app.wareki import fiscal_year_of, tokyo
from tests import factories

YEAR = fiscal_year_of(tokyo(datetime.now(UTC)))


@pytest.fixture
def world(app):
    """高津区: 総務課 (chief, staff) and 区民課 (chief) this year; a committee member of 高津区
    and one of 宮前区."""
    with app.app_context():
        somu = factories.section("総務課", department="まちづくり推進部")
        kumin = factories.section("区民課", department="区民サービス部")
        factories.section("宮前区民課", ward_name="宮前区")
        chief = factories.person(section=somu, role=Role.CHIEF, fiscal_year=YEAR)
        staff = factories.person(section=somu, role=Role.STAFF, fiscal_year=YEAR)
        other_chief = factories.person(section=kumin, role=Role.CHIEF, fiscal_year=YEAR)
        committee = factories.person()
        committee.grants.append(Grant(role=GrantRole.COMMITTEE, ward_id=somu.ward_id))
        other_ward = factories.person()
        miyamae = factories.ward("宮前区")
        other_ward.grants.append(Grant(role=GrantRole.COMMITTEE, ward_id=miyamae.id))
        db.session.commit()
        return {
            "ward": somu.ward_id, "miyamae": miyamae.id, "somu": somu.id, "kumin": kumin.id,
            "chief": chief.id, "staff": staff.id, "other_chief": other_chief.id,
            "committee": committee.id, "other_ward": other_ward.id,
        }


def _as(app, sign_in, world, who):
    with app.app_context():
        sign_in(db.session.get(Person, world[who]))


def _goals(app, section_id, fiscal_year=YEAR):
    with app.app_context():
        return [
            (g.position, g.scene, g.goal, g.result)
            for g in service.section_goals(section_id, fiscal_year)
        ]


def _slot_data(*slots):
    data = {}
    for i, (scene, goal, result) in enumerate(slots):
        data[f"goals-{i}-scene"] = scene
        data[f"goals-{i}-goal"] = goal
        data[f"goals-{i}-result"] = result
    return data


def _lock(app, world, fiscal_year=YEAR):
    with app.app_context():
        service.lock_year(world["ward"], fiscal_year, None)
        db.session.commit()


def test_a_chief_saves_the_sections_goals_and_results(app, client, sign_in, world):
    """A chief's POST stores 2 goals (scene spaces removed); an empty third slot is no goal."""
    _as(app, sign_in, world, "chief")
    url = f"/goals/sections/{world['somu']}/{YEAR}"
    assert "目標1" in client.get(url).get_data(as_text=True)
    response = client.post(url, data=_slot_data(
        ("対 面 応 対", "丁寧に対応します。", ""), ("共通", "庁舎を整えます。", "整えました。"),
        ("", "", ""),
    ))
    assert response.status_code == 302
    assert _goals(app, world["somu"]) == [
        (1, "対面応対", "丁寧に対応します。", None),
        (2, "共通", "庁舎を整えます。", "整えました。"),
    ]


def test_a_goal_without_text_or_no_goal_at_all_is_refused(app, client, sign_in, world):
    """A slot with a scene but no goal, and a form with no goal, answer 400 and store nothing."""
    _as(app, sign_in, world, "chief")
    url = f"/goals/sections/{world['somu']}/{YEAR}"
    response = client.post(url, data=_slot_data(("共通", "", "")))
    assert response.status_code == 400
    assert "目標1: 目標を入力してください。" in response.get_data(as_text=True)
    response = client.post(url, data=_slot_data(("", "", "")))
    assert response.status_code == 400 and "1つ以上" in response.get_data(as_text=True)
    assert _goals(app, world["somu"]) == []


def test_a_chief_cannot_open_another_sections_goals(app, client, sign_in, world):
    """The chief of 区民課 gets 403 on 総務課's goals; last year (not chief then) too."""
    _as(app, sign_in, world, "other_chief")
    assert client.get(f"/goals/sections/{world['somu']}/{YEAR}").status_code == 403
    assert client.get(f"/goals/sections/{world['kumin']}/{YEAR - 1}").status_code == 403
    assert client.get(f"/goals/sections/{world['kumin']}/{YEAR}").status_code == 200
    assert client.get(f"/goals/sections/999999/{YEAR}").status_code == 404


def test_committee_pages_are_for_their_own_ward(app, client, sign_in, world):
    """宮前区's committee member gets 403 on 高津区's year; 高津区's sees its sections."""
    _as(app, sign_in, world, "other_ward")
    assert client.get(f"/goals/wards/{world['ward']}/{YEAR}").status_code == 403
    assert client.get(f"/goals/sections/{world['somu']}/{YEAR}").status_code == 403
    _as(app, sign_in, world, "committee")
    page = client.get(f"/goals/wards/{world['ward']}/{YEAR}").get_data(as_text=True)
    assert "総務課" in page and "区民課" in page and "宮前区民課" not in page
    assert client.get(f"/goals/wards/999999/{YEAR}").status_code == 404


def test_copying_last_years_goals_asks_before_replacing(app, client, sign_in, world):
    """Copy without goals copies at once; over existing goals it asks, then replaces."""
    with app.app_context():
        somu = db.session.get(Section, world["somu"])
        factories.service_goal(section=somu, fiscal_year=YEAR - 1, goal="去年の目標", result="済")
        db.session.commit()
    _as(app, sign_in, world, "chief")
    url = f"/goals/sections/{world['somu']}/{YEAR}/copy"
    assert client.post(url).status_code == 302
    assert _goals(app, world["somu"]) == [(1, "対面応対", "去年の目標", None)]
    client.post(f"/goals/sections/{world['somu']}/{YEAR}",
                data=_slot_data(("共通", "今年の目標", "")))
    asked = client.post(url)
    assert asked.status_code == 200 and "置き換えますか" in asked.get_data(as_text=True)
    assert _goals(app, world["somu"]) == [(1, "共通", "今年の目標", None)]
    assert client.post(url, data={"confirmed": "yes"}).status_code == 302
    assert _goals(app, world["somu"]) == [(1, "対面応対", "去年の目標", None)]


def test_locking_asks_first_and_then_every_page_refuses_edits(app, client, sign_in, world):
    """Lock: confirmation, then the chief's save, the plan and a new team are refused."""
    _as(app, sign_in, world, "committee")
    lock_url = f"/goals/wards/{world['ward']}/{YEAR}/lock"
    assert "確定（ロック）しますか" in client.get(lock_url).get_data(as_text=True)
    assert client.post(lock_url, data={"confirmed": "yes"}).status_code == 302
    with app.app_context():
        assert service.is_locked(world["ward"], YEAR)
    plan = client.post(f"/goals/wards/{world['ward']}/{YEAR}/plan", data={
        "policy": "方針", "summary": "総括", "committee_name": "部会", "committee_members": "",
    })
    assert plan.status_code == 400 and "ロック" in plan.get_data(as_text=True)
    team = client.post(f"/goals/wards/{world['ward']}/{YEAR}/teams/new",
                       data={"team-name": "研修WT", "team-purpose": "", "team-members": ""})
    assert team.status_code == 400
    _as(app, sign_in, world, "chief")
    saved = client.post(f"/goals/sections/{world['somu']}/{YEAR}",
                        data=_slot_data(("共通", "目標", "")))
    assert saved.status_code == 400 and "ロック" in saved.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count(ServiceGoal.id))) == 0
        assert db.session.scalar(sa.select(sa.func.count(WorkingTeam.id))) == 0
        assert db.session.scalar(sa.select(YearPlan.policy)) == ""


def test_a_locked_year_refuses_every_service_write(app, world):
    """Goals, copy, teams, team goals, plan and import all raise GoalsError when locked."""
    with app.app_context():
        team = factories.working_team(fiscal_year=YEAR)
        somu = db.session.get(Section, world["somu"])
        chief = db.session.get_one(Person, world["chief"])
        db.session.commit()
        team_id = team.id
    _lock(app, world)
    with app.app_context():
        somu = db.session.get_one(Section, world["somu"])
        team = db.session.get_one(WorkingTeam, team_id)
        chief = db.session.get_one(Person, world["chief"])
        goal = [service.GoalInput(1, "共通", "目標")]
        row = goal_sheet.GoalRow(2, "総務課", None, 1, "共通", "目標", None)
        attempts = [
            lambda: service.save_section_goals(somu, YEAR, goal, chief),
            lambda: service.copy_section_goals(somu, YEAR, chief, replace=True),
            lambda: team_service.save_team(
                world["ward"], YEAR, name="X", purpose="", member_ids=[]
            ),
            lambda: service.save_team_goals(team, goal, chief),
            lambda: team_service.delete_team(team),
            lambda: team_service.copy_teams(world["ward"], YEAR, replace=True),
            lambda: service.save_plan(world["ward"], YEAR, policy="", summary="",
                                      committee_name="部会", committee_members=""),
            lambda: goal_sheet.import_goals([row], world["ward"], YEAR),
        ]
        for attempt in attempts:
            with pytest.raises(service.GoalsError) as refused:
                attempt()
            assert any("ロック" in e for e in refused.value.errors)


def test_unlocking_lets_the_committee_edit_again(app, client, sign_in, world):
    """After unlock the chief can save goals again."""
    _lock(app, world)
    _as(app, sign_in, world, "committee")
    assert client.post(f"/goals/wards/{world['ward']}/{YEAR}/unlock").status_code == 302
    _as(app, sign_in, world, "chief")
    saved = client.post(f"/goals/sections/{world['somu']}/{YEAR}",
                        data=_slot_data(("共通", "目標", "")))
    assert saved.status_code == 302


def test_the_plan_prefills_the_committee_and_strips_numbers(app, client, sign_in, world):
    """The plan form offers the committee's members; saved policy points lose their ①."""
    _as(app, sign_in, world, "committee")
    url = f"/goals/wards/{world['ward']}/{YEAR}/plan"
    with app.app_context():
        chief = db.session.get_one(Person, world["chief"])
        chief.grants.append(Grant(role=GrantRole.COMMITTEE, ward_id=world["ward"]))
        db.session.commit()
    assert "委員：総務課長" in client.get(url).get_data(as_text=True)
    response = client.post(url, data={
        "policy": "① 一つ目\n2. 二つ目\n\n", "summary": "段落一\n段落二",
        "committee_name": "サービス推進部会",
        "committee_members": "部会長：区民サービス部長\n区民課長",
    })
    assert response.status_code == 302
    with app.app_context():
        plan = service.plan_for(world["ward"], YEAR)
        assert plan is not None and plan.policy == "一つ目\n二つ目"
        assert service.parse_members(plan.committee_members) == [
            ("部会長", "区民サービス部長"), ("", "区民課長"),
        ]


def test_working_teams_with_members_and_goals(app, client, sign_in, world):
    """The committee creates a team by employee ids, names unknown ids, and saves its goals."""
    _as(app, sign_in, world, "committee")
    with app.app_context():
        staff_id = db.session.get_one(Person, world["staff"]).employee_id
    url = f"/goals/wards/{world['ward']}/{YEAR}/teams/new"
    bad = client.post(url, data={"team-name": "研修WT", "team-members": f"{staff_id} NOPE1"})
    assert bad.status_code == 400 and "職員番号 NOPE1" in bad.get_data(as_text=True)
    created = client.post(url, data={"team-name": "研修WT", "team-purpose": "研修",
                                      "team-members": staff_id})
    assert created.status_code == 302
    with app.app_context():
        team = db.session.scalars(sa.select(WorkingTeam)).one()
        assert [p.employee_id for p in team.members] == [staff_id]
        team_id = team.id
    saved = client.post(f"/goals/teams/{team_id}/goals",
                        data=_slot_data(("庁内体制", "研修をします。", "しました。")))
    assert saved.status_code == 302
    with app.app_context():
        assert [(g.scene, g.result) for g in service.team_goals(team_id)] == [
            ("庁内体制", "しました。"),
        ]


def test_copying_last_years_teams_brings_members_and_goals(app, world):
    """copy_teams copies name, purpose, members and goals without results; asks when teams exist."""
    with app.app_context():
        member = db.session.get_one(Person, world["staff"])
        old = factories.working_team(fiscal_year=YEAR - 1, name="研修WT", members=[member])
        factories.service_goal(team=old, goal="研修", result="済")
        assert team_service.copy_teams(world["ward"], YEAR) == 1
        with pytest.raises(service.GoalsError):
            team_service.copy_teams(world["ward"], YEAR)
        (team,) = service.ward_teams(world["ward"], YEAR)
        assert team.name == "研修WT" and team.members == [member]
        assert [(g.goal, g.result) for g in service.team_goals(team.id)] == [("研修", None)]


# --- Import from a sheet ---------------------------------------------------------------------


def _sheet(path, rows, header=("部署名", "No", "場面", "目標", "実施結果")):
    book = Workbook()
    sheet = book.worksheets[0]
    sheet.append(list(header))
    for row in rows:
        sheet.append(list(row))
    book.save(path)
    return path


def test_import_rejects_a_bad_sheet_whole_and_names_every_bad_row(app, world, tmp_path):
    """Unknown section, No 4, empty goal, duplicate No: every line named, nothing written."""
    path = _sheet(tmp_path / "goals.xlsx", [
        ("総務課", 1, "共通", "良い目標", "結果"),
        ("存在しない課", 1, "共通", "目標", ""),
        ("区民課", 4, "共通", "目標", ""),
        ("区民課", 1, "共通", "", ""),
        ("まちづくり推進部\n総務課", 1, "応対", "重複", ""),
    ])
    with app.app_context():
        with pytest.raises(service.GoalsError) as refused:
            goal_sheet.import_goals(goal_sheet.read_goal_sheet(path), world["ward"], YEAR)
        assert db.session.scalar(sa.select(sa.func.count(ServiceGoal.id))) == 0
    errors = refused.value.errors
    assert errors[0].startswith("3行目: 部署名「存在しない課」は高津区の課にも")
    assert errors[1:] == [
        "4行目: No「4」は1から3の数字にしてください",
        "5行目: 目標を入力してください。",
        "6行目: 総務課 の No 1 は 2行目と重複しています",
    ]


def test_import_checks_the_department_written_above_the_section(app, world, tmp_path):
    """「区民サービス部\n総務課」 is refused: 総務課 is in まちづくり推進部."""
    path = _sheet(tmp_path / "goals.xlsx", [("区民サービス部\n総務課", 1, "応対", "目標", "")])
    with app.app_context(), pytest.raises(service.GoalsError) as refused:
        goal_sheet.import_goals(goal_sheet.read_goal_sheet(path), world["ward"], YEAR)
    assert refused.value.errors == [
        "2行目: 総務課 の部は「まちづくり推進部」です（シートでは「区民サービス部」）"
    ]


def test_import_writes_a_good_sheet_and_replaces_the_named_sections(app, world, tmp_path):
    """Sections and a team named in the sheet get exactly its goals; others are untouched."""
    with app.app_context():
        somu = db.session.get(Section, world["somu"])
        kumin = db.session.get(Section, world["kumin"])
        factories.service_goal(section=somu, fiscal_year=YEAR, position=3, goal="消える")
        factories.service_goal(section=kumin, fiscal_year=YEAR, goal="残る")
        factories.working_team(fiscal_year=YEAR, name="研修ワーキングチーム")
        db.session.commit()
    path = _sheet(tmp_path / "goals.xlsx", [
        ("まちづくり推進部\n総務課", 1, "共 通", "目標一", "結果一"),
        ("総務課", "２", "お知らせ", "目標二", None),
        ("研修ワーキングチーム", 1, "庁内体制", "研修", "済"),
    ])
    with app.app_context():
        summary = goal_sheet.import_goals(goal_sheet.read_goal_sheet(path), world["ward"], YEAR)
        db.session.commit()
        assert (summary.rows, summary.sections, summary.teams) == (3, 1, 1)
    assert _goals(app, world["somu"]) == [
        (1, "共通", "目標一", "結果一"), (2, "お知らせ", "目標二", None),
    ]
    assert [g[2] for g in _goals(app, world["kumin"])] == ["残る"]


def test_import_needs_the_columns(app, world, tmp_path):
    """A sheet without 目標 and 場面 columns is refused on its header line."""
    path = _sheet(tmp_path / "goals.xlsx", [("総務課", 1)], header=("部署名", "No"))
    with app.app_context(), pytest.raises(service.GoalsError) as refused:
        goal_sheet.read_goal_sheet(path)
    assert refused.value.errors == ["1行目: 必要な列がありません: 場面、目標"]


def test_the_cli_imports_dry_runs_and_refuses_a_locked_year(app, runner, world, tmp_path):
    """goals import: --dry-run writes nothing; a real run writes; a locked year exits 1."""
    path = _sheet(tmp_path / "goals.xlsx", [("総務課", 1, "共通", "目標", "")])
    args = ["goals", "import", str(path), "--ward", "高津区", "--fiscal-year", str(YEAR)]
    result = runner.invoke(args=[*args, "--dry-run"])
    assert result.exit_code == 0 and "確認のみ" in result.output
    assert _goals(app, world["somu"]) == []
    assert runner.invoke(args=args).exit_code == 0
    assert len(_goals(app, world["somu"])) == 1
    assert runner.invoke(args=["goals", "lock", "--ward", "高津区", "--fiscal-year",
                               str(YEAR)]).exit_code == 0
    refused = runner.invoke(args=args)
    assert refused.exit_code == 1 and "ロック" in refused.output
    unknown = runner.invoke(args=[*args[:3], "--ward", "無い区", "--fiscal-year", str(YEAR)])
    assert unknown.exit_code == 1


def test_the_upload_form_reports_bad_rows_and_writes_nothing(app, client, sign_in, world,
                                                              tmp_path):
    """The committee's upload of a bad sheet answers 400 with the lines; a good one imports."""
    _as(app, sign_in, world, "committee")
    url = f"/goals/wards/{world['ward']}/{YEAR}/import"
    bad = _sheet(tmp_path / "bad.xlsx", [("総務課", 1, "共通", "目標", ""),
                                         ("無い課", 1, "共通", "目標", "")])
    with open(bad, "rb") as handle:
        response = client.post(url, data={"sheet": (handle, "bad.xlsx")},
                               content_type="multipart/form-data")
    assert response.status_code == 400
    assert "3行目: 部署名「無い課」" in response.get_data(as_text=True)
    assert _goals(app, world["somu"]) == []
    good = _sheet(tmp_path / "good.xlsx", [("総務課", 1, "共通", "目標", "")])
    with open(good, "rb") as handle:
        response = client.post(url, data={"sheet": (handle, "good.xlsx")},
                               content_type="multipart/form-data")
    assert response.status_code == 302
    assert len(_goals(app, world["somu"])) == 1


def test_the_nav_shows_goals_to_chiefs_and_not_to_staff(app, client, sign_in, world):
    """「目標」 is in the menu of a chief and not of a staff member."""
    _as(app, sign_in, world, "chief")
    assert 'href="/goals/"' in client.get("/me").get_data(as_text=True)
    _as(app, sign_in, world, "staff")
    assert 'href="/goals/"' not in client.get("/me").get_data(as_text=True)
    assert client.get("/goals/").status_code == 403


def test_the_dry_run_lists_the_goals_it_would_replace_add_and_delete(app, runner, world,
                                                                     tmp_path):
    """goals import --dry-run says the sheet replaces the named sections' goals and lists each
    goal it would replace, add and delete, without the word 取り込みました and writing nothing."""
    with app.app_context():
        somu = db.session.get(Section, world["somu"])
        factories.service_goal(section=somu, fiscal_year=YEAR, position=1, goal="古い目標")
        factories.service_goal(section=somu, fiscal_year=YEAR, position=3, goal="消える目標")
        db.session.commit()
    before = _goals(app, world["somu"])
    path = _sheet(tmp_path / "goals.xlsx", [
        ("総務課", 1, "共通", "新しい目標", ""),
        ("総務課", 2, "応対", "増える目標", ""),
    ])
    args = ["goals", "import", str(path), "--ward", "高津区", "--fiscal-year", str(YEAR)]
    result = runner.invoke(args=[*args, "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "取り込みました" not in result.output
    assert "置き換わり" in result.output and "削除されます" in result.output
    assert "置き換え 1 件・追加 1 件・削除 1 件・変更なし 0 件" in result.output
    for line in ("置き換え: 総務課 No 1", "追加: 総務課 No 2", "削除: 総務課 No 3"):
        assert line in result.output
    assert _goals(app, world["somu"]) == before
    done = runner.invoke(args=args)
    assert "取り込みました" in done.output and "削除 1 件" in done.output
    assert [g[0] for g in _goals(app, world["somu"])] == [1, 2]


def test_lock_and_unlock_are_idempotent_and_say_the_state(app, runner, world):
    """goals lock on a locked year and unlock on an unlocked one exit 0 and say so."""
    args = ["--ward", "高津区", "--fiscal-year", str(YEAR)]
    first = runner.invoke(args=["goals", "lock", *args])
    assert first.exit_code == 0 and "を確定（ロック）しました" in first.output
    again = runner.invoke(args=["goals", "lock", *args])
    assert again.exit_code == 0 and "すでに確定（ロック）されています" in again.output
    with app.app_context():
        assert service.is_locked(world["ward"], YEAR)
    assert "ロックを解除しました" in runner.invoke(args=["goals", "unlock", *args]).output
    unlocked = runner.invoke(args=["goals", "unlock", *args])
    assert unlocked.exit_code == 0 and "ロックされていません" in unlocked.output
    with app.app_context():
        assert not service.is_locked(world["ward"], YEAR)


def test_a_teams_page_lists_its_members_by_staff_number(app, client, sign_in, world):
    """The team's form shows its members as 職員番号, one a line (never the Python objects),
    so that saving the form unchanged keeps them."""
    with app.app_context():
        staff = db.session.get_one(Person, world["staff"])
        chief = db.session.get_one(Person, world["chief"])
        team = factories.working_team(fiscal_year=YEAR, name="窓口WT", members=[staff, chief])
        db.session.commit()
        team_id, numbers = team.id, sorted([staff.employee_id, chief.employee_id])
    _as(app, sign_in, world, "committee")
    page = client.get(f"/goals/teams/{team_id}").get_data(as_text=True)
    assert "<Person" not in page and "&lt;Person" not in page
    members = re.search(r'<textarea[^>]*name="team-members"[^>]*>(.*?)</textarea>', page, re.S)
    assert members is not None and members.group(1).split() == numbers
    saved = client.post(f"/goals/teams/{team_id}", data={
        "team-name": "窓口WT", "team-purpose": "", "team-members": members.group(1)})
    assert saved.status_code == 302
    with app.app_context():
        kept = db.session.get_one(WorkingTeam, team_id)
        assert sorted(p.employee_id for p in kept.members) == numbers
