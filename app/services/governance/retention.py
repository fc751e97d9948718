"""Retention: remove the personal data of people who left, keeping every published figure.

The city keeps personal records for a set period (docs/deploy.md, "Retention"). Once a
year an administrator runs ``flask retention purge --before-fiscal-year YYYY``: everyone who
was on a roster before fiscal year YYYY and on none since (no ``Assignment`` with
``fiscal_year >= YYYY``) loses

- their responses, with every answer, comment and section-level answer in them;
- their mail ledger rows, login attempts (by employee id) and committee/admin grants;
- their name, mail address, password and employee id: the ``Person`` row stays, as
  「削除済み」 with the employee id ``purged-<id>``, so that the rows that point to it (their
  past ``Assignment`` rows, a goal's ``updated_by``) stay valid without naming anyone.

Their assignments stay: they name no one once the person is anonymised, and they are the
historical roster (which section had how many staff in which year). So do their working-team
memberships, for the same reason: a past year's annual report counts each team's members, and
that published number must not change. Service goals belong to sections and working teams,
not to a person, and stay too.

Why no published rate changes: every result of a closed round (pages, API, exports, charts,
the trend) is read only from the round's counts (``app.services.results.tally``), written once at
the close and naming nobody. So the purge first counts every closed round that is not counted yet,
and refuses while a round that the leavers answered, or a round of a year before YYYY, is not
closed: its figures are still to be counted from the very answers that would go.

People who were never on a roster (accounts that only hold a committee or admin grant) are not
"people who left" and are never purged. Someone already purged is not counted again.

Every statement works on the set of leavers as a subquery (``DELETE ... WHERE person_id IN
(SELECT ...)``), so the number of queries does not grow with the number of people. Functions
flush, never commit.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from app.extensions import db
from app.models import (
    Answer,
    Assignment,
    Grant,
    LoginAttempt,
    MailLedger,
    Person,
    Response,
    ResponseStatus,
    Round,
    RoundHeadcount,
    SectionAnswer,
    utcnow,
)
from app.services.errors import DomainError
from app.services.results.tally import count_closed_rounds
from app.wareki import fiscal_year_label, fiscal_year_of, tokyo

# What an anonymised person is called, and the prefix of their placeholder employee id
# (``purged-<person id>``: unique, and says nothing about who it was).
PURGED_NAME = "削除済み"
PURGED_EMPLOYEE_ID_PREFIX = "purged-"
# The oldest fiscal year the command accepts: the city's records do not go further back,
# and a typo such as 224 should be refused, not read as "purge nothing".
EARLIEST_FISCAL_YEAR = 2000


class RetentionError(DomainError):
    """The purge cannot run; ``message`` is plain Japanese. Nothing has been written."""


@dataclass(frozen=True)
class PurgeSummary:
    """What a purge removes (or, in a dry run, would remove)."""

    before_fiscal_year: int
    people: int
    responses: int
    answers: int
    comments: int
    section_answers: int
    mail: int
    login_attempts: int
    grants: int
    # The fiscal years of the rounds whose responses go, oldest first.
    fiscal_years: tuple[int, ...]
    # Closed rounds counted just before the purge (their counts did not exist yet).
    counted_round_ids: tuple[int, ...] = ()

    def lines(self) -> list[str]:
        """The summary in plain Japanese, one line each."""
        years = "、".join(f"{fiscal_year_label(y)}（{y}）" for y in self.fiscal_years)
        return [
            f"{fiscal_year_label(self.before_fiscal_year)}（{self.before_fiscal_year}）以降の"
            "名簿に載っていない人の個人情報:",
            f"  人: {self.people} 人（氏名・メールアドレス・職員番号・パスワードを消します）",
            f"  回答: {self.responses} 件",
            f"  基準ごとの回答: {self.answers} 件",
            f"  コメント: {self.comments} 件",
            f"  課としての回答: {self.section_answers} 件",
            f"  メールの送信記録: {self.mail} 件",
            f"  サインインの試行記録: {self.login_attempts} 件",
            f"  委員・管理者の権限: {self.grants} 件",
            f"  回答のあった年度: {years or 'なし'}",
        ]


def check_before_fiscal_year(before_fiscal_year: int, now: datetime | None = None) -> None:
    """Refuse a cut-off year that is implausible, or the current fiscal year or later (that
    would purge the current roster). Raises RetentionError."""
    current = fiscal_year_of(tokyo(now or utcnow()))
    if before_fiscal_year < EARLIEST_FISCAL_YEAR:
        raise RetentionError(
            f"年度 {before_fiscal_year} は古すぎます。{EARLIEST_FISCAL_YEAR} 以降の西暦で"
            "指定してください（令和2年度なら 2020）。"
        )
    if before_fiscal_year >= current:
        raise RetentionError(
            f"年度 {before_fiscal_year} は今年度（{fiscal_year_label(current)}、{current}）"
            "以降です。今の名簿の人まで消えてしまうため、今年度より前の年度を指定してください。"
        )


def leavers(before_fiscal_year: int) -> sa.Select[Any]:
    """The ids of the people to purge, as a subquery: on a roster before the year, on none
    since, and not purged already."""
    # correlate(None): these subqueries stand alone even inside a statement on assignment.
    on_roster_before = (
        sa.select(Assignment.person_id)
        .where(Assignment.fiscal_year < before_fiscal_year)
        .correlate(None)
    )
    on_roster_since = (
        sa.select(Assignment.person_id)
        .where(Assignment.fiscal_year >= before_fiscal_year)
        .correlate(None)
    )
    return (
        sa.select(Person.id)
        .where(
            Person.id.in_(on_roster_before),
            Person.id.not_in(on_roster_since),
            Person.employee_id.not_like(f"{PURGED_EMPLOYEE_ID_PREFIX}%"),
        )
        .correlate(None)
    )


def answers_purged(round_id: int) -> bool:
    """Whether some responses a counted round was counted from are gone (purged): its counts
    could then never be written again from its answers, so it must not be reopened (reopening
    discards them). Two COUNT queries."""
    counted = _count(
        sa.select(sa.func.sum(RoundHeadcount.submitted)).where(
            RoundHeadcount.round_id == round_id
        )
    )
    left = _count(
        sa.select(sa.func.count()).where(
            Response.round_id == round_id, Response.status == ResponseStatus.SUBMITTED
        )
    )
    return left < counted


def _count(statement: Any) -> int:
    return int(db.session.scalar(statement) or 0)


def _refuse_rounds_not_closed(
    before_fiscal_year: int, now: datetime, their_responses: sa.Select[Any]
) -> None:
    """RetentionError naming every round not yet closed of an earlier year, or that one of
    the leavers (``their_responses``) answered: its answers are not counted yet."""
    not_closed = db.session.execute(
        sa.select(Round.id, Round.title)
        .where(
            ~Round.closed_by(now),
            sa.or_(
                Round.fiscal_year < before_fiscal_year,
                Round.id.in_(sa.select(Response.round_id).where(Response.id.in_(their_responses))),
            ),
        )
        .order_by(Round.id)
    ).all()
    if not_closed:
        rounds = "、".join(f"{title}（{round_id}）" for round_id, title in not_closed)
        raise RetentionError(
            f"まだ締め切っていない調査があります: {rounds}。締め切って集計が済むまで、"
            "その回答は消せません。何も書き込んでいません。"
        )


def plan_purge(before_fiscal_year: int, now: datetime | None = None) -> PurgeSummary:
    """What a purge before ``before_fiscal_year`` would remove, read only (the dry run).

    Raises RetentionError for a refused year, or while a round that the leavers answered,
    or a round of an earlier year, is not closed. A dozen COUNT queries, whatever the number
    of people."""
    now = now or utcnow()
    check_before_fiscal_year(before_fiscal_year, now)
    people = leavers(before_fiscal_year)
    their_responses = (
        sa.select(Response.id).where(Response.person_id.in_(people)).correlate(None)
    )
    _refuse_rounds_not_closed(before_fiscal_year, now, their_responses)
    comment = sa.func.coalesce(sa.func.length(sa.func.trim(Answer.comment)), 0) > 0
    section_comment = (
        sa.func.coalesce(sa.func.length(sa.func.trim(SectionAnswer.comment)), 0) > 0
    )
    count = sa.func.count()
    fiscal_years = db.session.scalars(
        sa.select(Round.fiscal_year)
        .distinct()
        .join(Response, Response.round_id == Round.id)
        .where(Response.id.in_(their_responses))
        .order_by(Round.fiscal_year)
    ).all()
    return PurgeSummary(
        before_fiscal_year=before_fiscal_year,
        people=_count(sa.select(count).where(Person.id.in_(people))),
        responses=_count(sa.select(count).where(Response.id.in_(their_responses))),
        answers=_count(sa.select(count).where(Answer.response_id.in_(their_responses))),
        comments=_count(
            sa.select(count).where(Answer.response_id.in_(their_responses), comment)
        )
        + _count(
            sa.select(count).where(
                SectionAnswer.response_id.in_(their_responses), section_comment
            )
        ),
        section_answers=_count(
            sa.select(count).where(SectionAnswer.response_id.in_(their_responses))
        ),
        mail=_count(sa.select(count).where(MailLedger.person_id.in_(people))),
        login_attempts=_count(
            sa.select(count).where(
                LoginAttempt.employee_id.in_(
                    sa.select(Person.employee_id).where(Person.id.in_(people))
                )
            )
        ),
        grants=_count(sa.select(count).where(Grant.person_id.in_(people))),
        fiscal_years=tuple(int(y) for y in fiscal_years),
    )


def purge_personal_data(before_fiscal_year: int, now: datetime | None = None) -> PurgeSummary:
    """Purge the personal data of everyone on no roster since ``before_fiscal_year``.

    Counts every closed round not counted yet first (so its published figures exist without
    the answers), checks as ``plan_purge`` does (RetentionError: nothing written by this
    function's statements; the caller rolls back), then removes their answers, section
    answers, responses, mail ledger rows, login attempts and grants, and anonymises their
    ``Person`` row. A fixed number of statements, whatever the number of people. Flushes,
    never commits."""
    now = now or utcnow()
    check_before_fiscal_year(before_fiscal_year, now)
    counted = count_closed_rounds(now)
    summary = plan_purge(before_fiscal_year, now)
    people = leavers(before_fiscal_year)
    their_responses = (
        sa.select(Response.id).where(Response.person_id.in_(people)).correlate(None)
    )
    # Children first: not every database enforces ON DELETE CASCADE (SQLite without its
    # foreign-key pragma), and a section answer points at the chief's response.
    for statement in (
        sa.delete(Answer).where(Answer.response_id.in_(their_responses)),
        sa.delete(SectionAnswer).where(SectionAnswer.response_id.in_(their_responses)),
        sa.delete(Response).where(Response.person_id.in_(people)),
        sa.delete(MailLedger).where(MailLedger.person_id.in_(people)),
        sa.delete(LoginAttempt).where(
            LoginAttempt.employee_id.in_(
                sa.select(Person.employee_id).where(Person.id.in_(people)).correlate(None)
            )
        ),
        sa.delete(Grant).where(Grant.person_id.in_(people)),
    ):
        db.session.execute(statement, execution_options={"synchronize_session": False})
    # Last, because it changes the employee id that ``leavers`` and the login attempts use.
    values: dict[Any, Any] = {
        Person.name: PURGED_NAME,
        Person.email: None,
        Person.password_hash: None,
        Person.employee_id: sa.literal(PURGED_EMPLOYEE_ID_PREFIX, sa.String)
        + sa.cast(Person.id, sa.String),
    }
    # A signed-in session of a purged person must end. Where the person row carries a
    # session version (checked on every request), moving it on does that.
    session_version = getattr(Person, "session_version", None)
    if session_version is not None:
        values[session_version] = session_version + 1
    db.session.execute(
        sa.update(Person).where(Person.id.in_(people)).values(values),
        execution_options={"synchronize_session": False},
    )
    db.session.flush()
    # The ORM objects loaded before these bulk statements may hold the old values.
    db.session.expire_all()
    return replace(summary, counted_round_ids=tuple(counted))
