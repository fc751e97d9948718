"""The data model: organisation, yearly roster, catalogues, rounds and answers."""

from __future__ import annotations

import enum
from datetime import UTC, date, datetime
from typing import Any, Literal, Protocol

import sqlalchemy as sa
import sqlalchemy.orm as so
from flask_login import UserMixin

from app.extensions import Model, db


class UTCDateTime(sa.types.TypeDecorator[datetime]):
    """Stores UTC and hands back aware datetimes, on SQLite as on PostgreSQL."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: give a timezone")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


def _enum(cls: type[enum.Enum], name: str) -> sa.Enum:
    """A portable enum: VARCHAR plus a named CHECK constraint, storing the values."""
    return sa.Enum(
        cls,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=20,
        values_callable=lambda members: [m.value for m in members],
        validate_strings=True,
    )


# The scenes (場面) the city's standards are grouped by, in the catalogue's order.
SCENES: tuple[str, ...] = ("お知らせ", "応対", "対面", "地域訪問", "共通", "庁内体制", "庁舎案内")

# Kinds of section that some section-level standards are asked of (the city's FY2024
# standards, 26-30).
SECTION_KINDS: tuple[str, ...] = ("庁舎管理担当課", "研修担当課", "本庁業務所管課")


class Role(enum.StrEnum):
    """A person's role in their section for one fiscal year."""

    STAFF = "staff"
    CHIEF = "chief"


class Audience(enum.StrEnum):
    """Who answers a standard: every person for themself, or the chief once for the section."""

    EVERYONE = "everyone"
    SECTION = "section"


class AnswerValue(enum.StrEnum):
    YES = "yes"  # できている
    NO = "no"  # できていない
    NA = "na"  # 該当しない


class ResponseStatus(enum.StrEnum):
    DRAFT = "draft"
    SUBMITTED = "submitted"


class GrantRole(enum.StrEnum):
    """Roles that do not come from the roster."""

    COMMITTEE = "committee"
    ADMIN = "admin"


# --- Organisation -----------------------------------------------------------------------


class Ward(Model):
    """A ward office (区役所), e.g. 高津区."""

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    name: so.Mapped[str] = so.mapped_column(sa.String(50), unique=True)
    sort_order: so.Mapped[int] = so.mapped_column(default=0)

    departments: so.WriteOnlyMapped[Department] = so.relationship(back_populates="ward")
    sections: so.WriteOnlyMapped[Section] = so.relationship(back_populates="ward")

    def __repr__(self) -> str:
        return f"<Ward {self.name}>"


class Department(Model):
    """A department (部) of a ward office."""

    __table_args__ = (sa.UniqueConstraint("ward_id", "name"),)

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    ward_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("ward.id"), index=True)
    name: so.Mapped[str] = so.mapped_column(sa.String(100))
    sort_order: so.Mapped[int] = so.mapped_column(default=0)

    ward: so.Mapped[Ward] = so.relationship(back_populates="departments")

    def __repr__(self) -> str:
        return f"<Department {self.name}>"


section_kind_link = sa.Table(
    "section_kind_link",
    db.metadata,
    sa.Column("section_id", sa.ForeignKey("section.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("kind_id", sa.ForeignKey("section_kind.id"), primary_key=True),
)

standard_kind_link = sa.Table(
    "standard_kind_link",
    db.metadata,
    sa.Column("standard_id", sa.ForeignKey("standard.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("kind_id", sa.ForeignKey("section_kind.id"), primary_key=True),
)


class SectionKind(Model):
    """A kind of section that some standards are asked of, e.g. 庁舎管理担当課."""

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    name: so.Mapped[str] = so.mapped_column(sa.String(50), unique=True)

    def __repr__(self) -> str:
        return f"<SectionKind {self.name}>"


class Section(Model):
    """A section (課・担当・出張所) with one chief; without a department it is under the ward."""

    __table_args__ = (sa.UniqueConstraint("ward_id", "name"),)

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    ward_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("ward.id"), index=True)
    department_id: so.Mapped[int | None] = so.mapped_column(
        sa.ForeignKey("department.id"), index=True
    )
    name: so.Mapped[str] = so.mapped_column(sa.String(100))
    sort_order: so.Mapped[int] = so.mapped_column(default=0)

    ward: so.Mapped[Ward] = so.relationship(back_populates="sections")
    department: so.Mapped[Department | None] = so.relationship()
    kinds: so.Mapped[list[SectionKind]] = so.relationship(
        secondary=section_kind_link, order_by=SectionKind.name
    )

    def __repr__(self) -> str:
        return f"<Section {self.name}>"


# --- People and the yearly roster -----------------------------------------------------------


class PersonRef(Protocol):
    """A person as the services that need only their id take them: the ORM ``Person``, or the
    signed-in person of a request (``app.access.SignedIn``), which is not loaded as one."""

    @property
    def id(self) -> int: ...


class Person(UserMixin, Model):
    """An employee. Their section and role live in one ``Assignment`` per fiscal year."""

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    employee_id: so.Mapped[str] = so.mapped_column(sa.String(32), unique=True)
    name: so.Mapped[str] = so.mapped_column(sa.String(100))
    email: so.Mapped[str | None] = so.mapped_column(sa.String(254))
    password_hash: so.Mapped[str | None] = so.mapped_column(sa.String(256))
    # Raised on sign-out and on a password change: a session that carries an older number is
    # no longer signed in (docs/auth.md, "Sessions"). Read with the person on every request.
    session_version: so.Mapped[int] = so.mapped_column(default=0, server_default="0")
    created_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime(), default=utcnow)
    # Set by an admin (the person's page): no sign-in of any kind, and a signed-in session ends.
    sign_in_blocked: so.Mapped[bool] = so.mapped_column(
        default=False, server_default=sa.false()
    )

    assignments: so.WriteOnlyMapped[Assignment] = so.relationship(back_populates="person")
    grants: so.Mapped[list[Grant]] = so.relationship(
        back_populates="person", cascade="all, delete-orphan"
    )

    def __repr__(self) -> str:
        return f"<Person {self.employee_id}>"


class Assignment(Model):
    """Where a person worked in one fiscal year (April-March) and in which role."""

    __table_args__ = (
        sa.UniqueConstraint("person_id", "fiscal_year"),
        # One chief per section and year.
        sa.Index(
            "uq_assignment_one_chief",
            "section_id",
            "fiscal_year",
            unique=True,
            sqlite_where=sa.text("role = 'chief'"),
            postgresql_where=sa.text("role = 'chief'"),
        ),
        # The role rides along (PostgreSQL) so that a round's response rates count the
        # year's roster from the index alone.
        sa.Index(
            "ix_assignment_fiscal_year_section_id",
            "fiscal_year",
            "section_id",
            postgresql_include=["role"],
        ),
    )

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    person_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("person.id"), index=True)
    fiscal_year: so.Mapped[int]
    section_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("section.id"))
    role: so.Mapped[Role] = so.mapped_column(_enum(Role, "role"))

    person: so.Mapped[Person] = so.relationship(back_populates="assignments")
    section: so.Mapped[Section] = so.relationship()

    def __repr__(self) -> str:
        return f"<Assignment {self.person_id} FY{self.fiscal_year} {self.role}>"


class Grant(Model):
    """A committee or admin role; ``ward_id`` None means the whole city; ``ends_on`` the last
    day it works, if it ends (docs/admin.md "Grants that end")."""

    __tablename__ = "role_grant"
    __table_args__ = (sa.UniqueConstraint("person_id", "role", "ward_id"),)

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    person_id: so.Mapped[int] = so.mapped_column(
        sa.ForeignKey("person.id", ondelete="CASCADE"), index=True
    )
    role: so.Mapped[GrantRole] = so.mapped_column(_enum(GrantRole, "grant_role"))
    ward_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("ward.id"))
    # The last day (Tokyo) the grant works; None: until revoked (grants.in_force_clause).
    ends_on: so.Mapped[date | None] = so.mapped_column(sa.Date())

    person: so.Mapped[Person] = so.relationship(back_populates="grants")
    ward: so.Mapped[Ward | None] = so.relationship()


class LoginAttempt(Model):
    """One try of the sign-in form, kept to throttle repeated failures (see docs/auth.md).

    ``employee_id`` is what was typed (normalised), whether or not such a person exists;
    ``address`` is the client address as the app sees it (``request.remote_addr``).
    """

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    employee_id: so.Mapped[str] = so.mapped_column(sa.String(32), index=True)
    address: so.Mapped[str] = so.mapped_column(sa.String(64), index=True)
    at: so.Mapped[datetime] = so.mapped_column(UTCDateTime(), default=utcnow, index=True)
    succeeded: so.Mapped[bool] = so.mapped_column(default=False)

    def __repr__(self) -> str:
        return f"<LoginAttempt {self.employee_id} {self.address} {self.succeeded}>"


class SignInLink(Model):
    """A personal sign-in link of one round, mailed to one person (docs/auth.md, "Sign-in
    links"). Only the SHA-256 of its random token is kept, never the token. It signs its
    person in while the round is open, until revoked (by an admin, or by the person's
    sign-out); ``app/services/identity/links.py`` holds the rules."""

    __tablename__ = "sign_in_link"
    __table_args__ = (sa.Index("ix_sign_in_link_round_id_person_id", "round_id", "person_id"),)

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    person_id: so.Mapped[int] = so.mapped_column(
        sa.ForeignKey("person.id", ondelete="CASCADE"), index=True
    )
    round_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("round.id", ondelete="CASCADE"))
    token_hash: so.Mapped[str] = so.mapped_column(sa.String(64), unique=True)
    created_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime(), default=utcnow)
    revoked_at: so.Mapped[datetime | None] = so.mapped_column(UTCDateTime())

    def __repr__(self) -> str:
        return f"<SignInLink {self.round_id} {self.person_id}>"


# --- Catalogues of standards ------------------------------------------------------------------


class Catalogue(Model):
    """One fiscal year's list of standards, city-wide or for one ward (``surveys/*.yaml``)."""

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    key: so.Mapped[str] = so.mapped_column(sa.String(64), unique=True)
    title: so.Mapped[str] = so.mapped_column(sa.String(200))
    fiscal_year: so.Mapped[int] = so.mapped_column(index=True)
    ward_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("ward.id"))
    source: so.Mapped[str | None] = so.mapped_column(sa.String(200))
    loaded_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime(), default=utcnow)
    # Bumped by every flush that changes the catalogue or one of its standards
    # (``_bump_revisions``): the key of the checklist's per-process copy of the standards.
    revision: so.Mapped[int] = so.mapped_column(default=0, server_default="0")
    # None while the catalogue is a draft (next year's standards being edited in the browser,
    # app/services/catalogue/drafts.py): a draft is not offered for rounds nor shown publicly.
    published_at: so.Mapped[datetime | None] = so.mapped_column(UTCDateTime(), default=utcnow)

    ward: so.Mapped[Ward | None] = so.relationship()
    standards: so.Mapped[list[Standard]] = so.relationship(
        back_populates="catalogue", order_by="Standard.position", cascade="all, delete-orphan"
    )

    @property
    def is_draft(self) -> bool:
        return self.published_at is None

    def __repr__(self) -> str:
        return f"<Catalogue {self.key}>"


class Standard(Model):
    """One standard in one catalogue; ``key`` follows the same standard across years."""

    __table_args__ = (
        sa.UniqueConstraint("catalogue_id", "key"),
        sa.UniqueConstraint("catalogue_id", "number"),
    )

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    catalogue_id: so.Mapped[int] = so.mapped_column(
        sa.ForeignKey("catalogue.id", ondelete="CASCADE"), index=True
    )
    key: so.Mapped[str] = so.mapped_column(sa.String(64), index=True)
    number: so.Mapped[int]
    position: so.Mapped[int] = so.mapped_column(default=0)
    text: so.Mapped[str] = so.mapped_column(sa.Text)
    scene: so.Mapped[str] = so.mapped_column(sa.String(20))
    audience: so.Mapped[Audience] = so.mapped_column(_enum(Audience, "audience"))
    ward_specific: so.Mapped[bool] = so.mapped_column(default=False)

    catalogue: so.Mapped[Catalogue] = so.relationship(back_populates="standards")
    section_kinds: so.Mapped[list[SectionKind]] = so.relationship(
        secondary=standard_kind_link, order_by=SectionKind.name
    )

    def __repr__(self) -> str:
        return f"<Standard {self.key} #{self.number}>"


# --- Rounds and answers -----------------------------------------------------------------------

round_ward = sa.Table(
    "round_ward",
    db.metadata,
    sa.Column("round_id", sa.ForeignKey("round.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("ward_id", sa.ForeignKey("ward.id"), primary_key=True),
)


RoundState = Literal["upcoming", "open", "closed"]


def round_state(opens_at: datetime, closes_at: datetime, now: datetime | None = None) -> RoundState:
    """Where a round stands at ``now`` (default: now): the one definition of "open", which is
    opens_at <= now < closes_at."""
    now = now or utcnow()
    if now < opens_at:
        return "upcoming"
    return "open" if now < closes_at else "closed"


class Round(Model):
    """A survey period of a catalogue in some wards; open while opens_at <= now < closes_at."""

    __table_args__ = (sa.CheckConstraint("opens_at < closes_at", name="opens_before_closes"),)

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    title: so.Mapped[str] = so.mapped_column(sa.String(200))
    catalogue_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("catalogue.id"), index=True)
    fiscal_year: so.Mapped[int] = so.mapped_column(index=True)
    opens_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime())
    closes_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime())
    created_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime(), default=utcnow)
    # Reminder cadence: days before the close, e.g. "7,3,1" (docs/scheduler.md); "" = none.
    reminder_days: so.Mapped[str] = so.mapped_column(
        sa.String(40), default="7,3,1", server_default="7,3,1"
    )
    # When the closed round's counts were written (app/services/results/tally.py); None while it has
    # not closed, or has been reopened since.
    counted_at: so.Mapped[datetime | None] = so.mapped_column(UTCDateTime())
    # Bumped by every flush that changes the round (``_bump_revisions``), like
    # Catalogue.revision.
    revision: so.Mapped[int] = so.mapped_column(default=0, server_default="0")

    catalogue: so.Mapped[Catalogue] = so.relationship()
    wards: so.Mapped[list[Ward]] = so.relationship(secondary=round_ward, order_by=Ward.sort_order)

    def state(self, now: datetime | None = None) -> RoundState:
        return round_state(self.opens_at, self.closes_at, now)

    @classmethod
    def opened_by(cls, now: datetime) -> sa.ColumnElement[bool]:
        """SQL: the round has opened at ``now`` (open or closed; ``round_state``'s rule)."""
        return cls.opens_at <= now

    @classmethod
    def closed_by(cls, now: datetime) -> sa.ColumnElement[bool]:
        """SQL: the round has closed at ``now`` (``round_state``'s rule, in a query)."""
        return cls.closes_at <= now

    @classmethod
    def open_at(cls, now: datetime) -> sa.ColumnElement[bool]:
        """SQL: the round is open at ``now`` (``round_state``'s rule, in a query)."""
        return sa.and_(cls.opens_at <= now, cls.closes_at > now)

    def is_open(self, now: datetime | None = None) -> bool:
        return self.state(now) == "open"

    def __repr__(self) -> str:
        return f"<Round {self.id} {self.title}>"


@sa.event.listens_for(so.Session, "before_flush")
def _bump_revisions(session: so.Session, _context: Any, _instances: Any) -> None:
    """Add one to the revision of every catalogue and round this flush changes (a standard's
    change, addition or removal counts for its catalogue), whoever changes them: the admin
    pages, the catalogue editor, ``flask catalogue load``. Per-process copies keyed by the
    revision (app/services/rounds/checklist_page.py) are thus replaced after any edit made through
    the ORM. A Core ``sa.update()`` of these tables bypasses this hook and must bump ``revision``
    itself (docs/benchmarks.md)."""
    catalogues: dict[int, Catalogue] = {}
    rounds: dict[int, Round] = {}
    gone = set(session.deleted)
    with session.no_autoflush:
        for obj in (*session.new, *session.dirty, *session.deleted):
            changed = obj not in session.dirty or session.is_modified(obj)
            if not changed:
                continue
            if isinstance(obj, Standard):
                catalogue = obj.catalogue
                if catalogue is None and obj.catalogue_id is not None:
                    catalogue = session.get(Catalogue, obj.catalogue_id)
                if catalogue is not None:
                    catalogues[id(catalogue)] = catalogue
            elif isinstance(obj, Catalogue):
                catalogues[id(obj)] = obj
            elif isinstance(obj, Round):
                rounds[id(obj)] = obj
    targets: list[Catalogue | Round] = [*catalogues.values(), *rounds.values()]
    for target in targets:
        if target in gone or target in session.new:
            continue
        # In SQL (revision + 1), so that two concurrent edits never write the same number.
        column = Catalogue.revision if isinstance(target, Catalogue) else Round.revision
        target.revision = column + 1


class Response(Model):
    """One person's checklist in one round, with the role and section they had when answering."""

    __table_args__ = (
        sa.UniqueConstraint("round_id", "person_id"),
        sa.Index(
            "ix_response_round_id_status",
            "round_id",
            "status",
            postgresql_include=["section_id", "role"],
        ),
    )

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    round_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("round.id"))
    person_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("person.id"), index=True)
    role: so.Mapped[Role] = so.mapped_column(_enum(Role, "role"))
    section_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("section.id"), index=True)
    status: so.Mapped[ResponseStatus] = so.mapped_column(
        _enum(ResponseStatus, "status"), default=ResponseStatus.DRAFT
    )
    created_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime(), default=utcnow)
    updated_at: so.Mapped[datetime] = so.mapped_column(
        UTCDateTime(), default=utcnow, onupdate=utcnow
    )
    submitted_at: so.Mapped[datetime | None] = so.mapped_column(UTCDateTime())

    round: so.Mapped[Round] = so.relationship()
    person: so.Mapped[Person] = so.relationship()
    section: so.Mapped[Section] = so.relationship()
    answers: so.Mapped[list[Answer]] = so.relationship(
        back_populates="response", cascade="all, delete-orphan"
    )


class Answer(Model):
    """A person's answer to one ``everyone`` standard."""

    # On PostgreSQL the unique index also carries the value, so that counting a round's
    # answers reads the index alone (an index-only scan), not the whole answer table.
    __table_args__ = (
        sa.UniqueConstraint("response_id", "standard_id", postgresql_include=["value"]),
    )

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    response_id: so.Mapped[int] = so.mapped_column(
        sa.ForeignKey("response.id", ondelete="CASCADE")
    )
    standard_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("standard.id"), index=True)
    value: so.Mapped[AnswerValue] = so.mapped_column(_enum(AnswerValue, "value"))
    comment: so.Mapped[str | None] = so.mapped_column(sa.Text)

    response: so.Mapped[Response] = so.relationship(back_populates="answers")
    standard: so.Mapped[Standard] = so.relationship()


class SectionAnswer(Model):
    """The chief's answer, once for the section, to one ``section`` standard."""

    __table_args__ = (sa.UniqueConstraint("round_id", "section_id", "standard_id"),)

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    round_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("round.id"))
    section_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("section.id"), index=True)
    standard_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("standard.id"), index=True)
    response_id: so.Mapped[int] = so.mapped_column(
        sa.ForeignKey("response.id", ondelete="CASCADE"), index=True
    )
    value: so.Mapped[AnswerValue] = so.mapped_column(_enum(AnswerValue, "value"))
    comment: so.Mapped[str | None] = so.mapped_column(sa.Text)

    section: so.Mapped[Section] = so.relationship()
    standard: so.Mapped[Standard] = so.relationship()
    response: so.Mapped[Response] = so.relationship()


# --- The counts of a closed round (app/services/results/tally.py, docs/results.md) --------------


class RoundCount(Model):
    """Answers of a closed round by section, role and standard: what every result reads.

    Written once when the round closes, from the submitted responses (section-level answers
    under the chief's role), so that no result of the round changes afterwards. Counts only:
    no row names a person.
    """

    __tablename__ = "round_count"

    round_id: so.Mapped[int] = so.mapped_column(
        sa.ForeignKey("round.id", ondelete="CASCADE"), primary_key=True
    )
    section_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("section.id"), primary_key=True)
    role: so.Mapped[Role] = so.mapped_column(_enum(Role, "role"), primary_key=True)
    standard_key: so.Mapped[str] = so.mapped_column(sa.String(64), primary_key=True)
    complies: so.Mapped[int]
    not_complies: so.Mapped[int]
    not_applicable: so.Mapped[int]


class RoundHeadcount(Model):
    """People a closed round expected (the year's roster) and responses submitted, by section
    and role: the response rates of the round."""

    __tablename__ = "round_headcount"

    round_id: so.Mapped[int] = so.mapped_column(
        sa.ForeignKey("round.id", ondelete="CASCADE"), primary_key=True
    )
    section_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("section.id"), primary_key=True)
    role: so.Mapped[Role] = so.mapped_column(_enum(Role, "role"), primary_key=True)
    expected: so.Mapped[int]
    submitted: so.Mapped[int]


class RoundDayCount(Model):
    """Responses of a closed round submitted on each day (Tokyo), by section and role: the
    progress chart, kept after the answers themselves may be purged."""

    __tablename__ = "round_day_count"

    round_id: so.Mapped[int] = so.mapped_column(
        sa.ForeignKey("round.id", ondelete="CASCADE"), primary_key=True
    )
    section_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("section.id"), primary_key=True)
    role: so.Mapped[Role] = so.mapped_column(_enum(Role, "role"), primary_key=True)
    day: so.Mapped[date] = so.mapped_column(primary_key=True)
    submitted: so.Mapped[int]


class RoundSection(Model):
    """The organisation of a closed round as it was at its close: each section of the round's
    wards with its name, its department and its ward (names and orders), written with the
    counts. Every result of the round groups its counts by these rows, never by today's
    ``Section``/``Department``/``Ward``, so next April's roster (a section moved to another
    department, renamed, reordered, a new section) changes nothing about a closed round
    (docs/results.md, "A closed round is a record")."""

    __tablename__ = "round_section"

    round_id: so.Mapped[int] = so.mapped_column(
        sa.ForeignKey("round.id", ondelete="CASCADE"), primary_key=True
    )
    section_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("section.id"), primary_key=True)
    section_name: so.Mapped[str] = so.mapped_column(sa.String(100))
    section_order: so.Mapped[int]
    # None: the section stood directly under its ward.
    department_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("department.id"))
    department_name: so.Mapped[str | None] = so.mapped_column(sa.String(100))
    department_order: so.Mapped[int | None]
    ward_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("ward.id"))
    ward_name: so.Mapped[str] = so.mapped_column(sa.String(50))
    ward_order: so.Mapped[int]


# --- Mail sent by the scheduler (docs/scheduler.md) ---------------------------------------------


class MailState(enum.StrEnum):
    """Where one message of the send ledger stands."""

    PENDING = "pending"  # to be sent
    SENDING = "sending"  # claimed by a tick until ``claimed_until``
    SENT = "sent"
    FAILED = "failed"  # the last try failed; tried again from ``next_attempt_at``
    SKIPPED = "skipped"  # never sent, ``reason`` says why


class MailLedger(Model):
    """One message of a round to one person: written before it is sent, marked after.

    ``kind`` is ``opened``, ``reminder:<days before close>``, ``digest:<days before close>``
    (to a chief) or ``closed`` (to the committee); or, for an improvement action recorded on
    the round, ``action:<action id>`` (assigned) or ``action-due:<action id>`` (before the due
    date) to its owner and the section's chief. One row per (round, person, kind) ever.
    """

    __tablename__ = "mail_ledger"
    __table_args__ = (
        sa.UniqueConstraint("round_id", "person_id", "kind"),
        sa.Index("ix_mail_ledger_state_next_attempt_at", "state", "next_attempt_at"),
        sa.Index("ix_mail_ledger_round_id_state", "round_id", "state"),
    )

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    round_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("round.id", ondelete="CASCADE"))
    person_id: so.Mapped[int] = so.mapped_column(
        sa.ForeignKey("person.id", ondelete="CASCADE"), index=True
    )
    kind: so.Mapped[str] = so.mapped_column(sa.String(20))
    # An improvement action's mail (kind ``action:<id>`` or ``action-due:<id>``, so the unique
    # (round, person, kind) is one message per action, person and kind); None for a round's.
    action_id: so.Mapped[int | None] = so.mapped_column(
        sa.ForeignKey("improvement_action.id", ondelete="CASCADE"), index=True
    )
    state: so.Mapped[MailState] = so.mapped_column(
        _enum(MailState, "mail_state"), default=MailState.PENDING
    )
    reason: so.Mapped[str | None] = so.mapped_column(sa.String(200))
    attempts: so.Mapped[int] = so.mapped_column(default=0)
    next_attempt_at: so.Mapped[datetime | None] = so.mapped_column(UTCDateTime())
    claimed_until: so.Mapped[datetime | None] = so.mapped_column(UTCDateTime())
    last_error: so.Mapped[str | None] = so.mapped_column(sa.Text)
    created_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime(), default=utcnow)
    sent_at: so.Mapped[datetime | None] = so.mapped_column(UTCDateTime())

    round: so.Mapped[Round] = so.relationship()
    person: so.Mapped[Person] = so.relationship()

    def __repr__(self) -> str:
        return f"<MailLedger {self.round_id} {self.person_id} {self.kind} {self.state}>"


class SchedulerHeartbeat(Model):
    """The scheduler's last sign of life: one row (``id`` 1) that every tick writes
    (``app/services/operations/heartbeat.py``), so that the admin pages and ``/readyz/scheduler``
    can tell whether mail goes out (docs/scheduler.md, "Is it running?").

    ``beat_at`` moves at a tick's start, after each batch it sends and at its end, so a long
    tick (20,000 messages) is not taken for a stopped one; ``host`` and ``pid`` name the process
    that wrote it; ``last_mail_at`` is when the SMTP server last accepted a message."""

    __tablename__ = "scheduler_heartbeat"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    tick_started_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime())
    tick_finished_at: so.Mapped[datetime | None] = so.mapped_column(UTCDateTime())
    beat_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime())
    host: so.Mapped[str] = so.mapped_column(sa.String(255))
    pid: so.Mapped[int]
    last_mail_at: so.Mapped[datetime | None] = so.mapped_column(UTCDateTime())

    def __repr__(self) -> str:
        return f"<SchedulerHeartbeat {self.host}:{self.pid} {self.beat_at}>"


# --- Service goals, working teams and the year's plan (docs/goals.md) -----------------------------

working_team_member = sa.Table(
    "working_team_member",
    db.metadata,
    sa.Column(
        "working_team_id", sa.ForeignKey("working_team.id", ondelete="CASCADE"), primary_key=True
    ),
    sa.Column("person_id", sa.ForeignKey("person.id", ondelete="CASCADE"), primary_key=True),
)


class WorkingTeam(Model):
    """A working team (ワーキングチーム) of a ward for one fiscal year: name, purpose, members."""

    __tablename__ = "working_team"
    __table_args__ = (sa.UniqueConstraint("ward_id", "fiscal_year", "name"),)

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    ward_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("ward.id"), index=True)
    fiscal_year: so.Mapped[int]
    name: so.Mapped[str] = so.mapped_column(sa.String(100))
    purpose: so.Mapped[str] = so.mapped_column(sa.Text, default="")
    sort_order: so.Mapped[int] = so.mapped_column(default=0)

    ward: so.Mapped[Ward] = so.relationship()
    members: so.Mapped[list[Person]] = so.relationship(
        secondary=working_team_member, order_by=Person.employee_id
    )

    def __repr__(self) -> str:
        return f"<WorkingTeam {self.name} FY{self.fiscal_year}>"


class ServiceGoal(Model):
    """One of the 1-3 service goals (サービス向上目標) of a section or a working team for a
    fiscal year: the scene (場面), the goal and, at the year end, the result (実施結果)."""

    __tablename__ = "service_goal"
    __table_args__ = (
        sa.CheckConstraint(
            "(section_id IS NULL) <> (working_team_id IS NULL)", name="one_owner"
        ),
        sa.CheckConstraint("position BETWEEN 1 AND 3", name="position_1_to_3"),
        sa.UniqueConstraint("fiscal_year", "section_id", "position"),
        sa.UniqueConstraint("working_team_id", "position"),
        sa.Index("ix_service_goal_section_id", "section_id"),
    )

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    fiscal_year: so.Mapped[int]
    section_id: so.Mapped[int | None] = so.mapped_column(
        sa.ForeignKey("section.id", ondelete="CASCADE")
    )
    working_team_id: so.Mapped[int | None] = so.mapped_column(
        sa.ForeignKey("working_team.id", ondelete="CASCADE")
    )
    position: so.Mapped[int]
    scene: so.Mapped[str] = so.mapped_column(sa.String(20))
    goal: so.Mapped[str] = so.mapped_column(sa.Text)
    result: so.Mapped[str | None] = so.mapped_column(sa.Text)
    updated_at: so.Mapped[datetime] = so.mapped_column(
        UTCDateTime(), default=utcnow, onupdate=utcnow
    )
    updated_by_id: so.Mapped[int | None] = so.mapped_column(
        sa.ForeignKey("person.id", ondelete="SET NULL")
    )

    section: so.Mapped[Section | None] = so.relationship()
    working_team: so.Mapped[WorkingTeam | None] = so.relationship()

    def __repr__(self) -> str:
        owner = f"S{self.section_id}" if self.section_id else f"WT{self.working_team_id}"
        return f"<ServiceGoal {owner} FY{self.fiscal_year} #{self.position}>"


class YearPlan(Model):
    """A ward's year: the service policy (方針, one point a line), the summary (総括), the
    committee's name and membership (one ``役職：所属`` a line) and whether the year is locked."""

    __tablename__ = "year_plan"
    __table_args__ = (sa.UniqueConstraint("ward_id", "fiscal_year"),)

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    ward_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("ward.id"))
    fiscal_year: so.Mapped[int]
    policy: so.Mapped[str] = so.mapped_column(sa.Text, default="")
    summary: so.Mapped[str] = so.mapped_column(sa.Text, default="")
    committee_name: so.Mapped[str] = so.mapped_column(
        sa.String(100), default="サービス推進部会"
    )
    committee_members: so.Mapped[str] = so.mapped_column(sa.Text, default="")
    updated_at: so.Mapped[datetime] = so.mapped_column(
        UTCDateTime(), default=utcnow, onupdate=utcnow
    )
    locked_at: so.Mapped[datetime | None] = so.mapped_column(UTCDateTime())
    locked_by_id: so.Mapped[int | None] = so.mapped_column(
        sa.ForeignKey("person.id", ondelete="SET NULL")
    )

    ward: so.Mapped[Ward] = so.relationship()
    locked_by: so.Mapped[Person | None] = so.relationship()

    def __repr__(self) -> str:
        return f"<YearPlan {self.ward_id} FY{self.fiscal_year}>"


# --- The audit log (docs/audit.md) ------------------------------------------------------------


class AuditEvent(Model):
    """One state-changing action, appended by ``app.services.governance.audit.record`` and never
    changed.

    Who (``actor_id`` and the employee id they had; None for the scheduler and for sign-in
    failures), when, from which address, what (``action``, a stable name), on which object,
    the values before and after (canonical JSON text), and the ward it concerns (None: the
    city or no ward), which is what an admin's ward scope filters on. ``hash`` is the SHA-256
    of the row's fields and ``prev_hash`` (the previous row's hash), so that a row edited or
    deleted in the database breaks the chain (``flask audit verify``). ``seq`` is the row's
    place in the log (1 for the first row) and ``mac`` the HMAC of ``seq`` and ``hash`` under
    the audit key, a secret kept outside the database (``AUDIT_KEY``), so that a row appended
    or rewritten without the key is found too; both are empty on rows written before the key
    was used (app/services/governance/audit_anchor.py). The actor and ward are kept without
    foreign keys: the log outlives what it speaks of, and no cascade may touch it.
    """

    __tablename__ = "audit_event"
    __table_args__ = (
        # One successor per row: two writers can never fork the chain.
        sa.UniqueConstraint("prev_hash"),
        sa.Index("ix_audit_event_target", "target_type", "target_id"),
    )

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    at: so.Mapped[datetime] = so.mapped_column(UTCDateTime(), index=True)
    actor_id: so.Mapped[int | None] = so.mapped_column(index=True)
    actor_employee_id: so.Mapped[str | None] = so.mapped_column(sa.String(32))
    address: so.Mapped[str | None] = so.mapped_column(sa.String(64))
    action: so.Mapped[str] = so.mapped_column(sa.String(64), index=True)
    target_type: so.Mapped[str] = so.mapped_column(sa.String(40))
    target_id: so.Mapped[str | None] = so.mapped_column(sa.String(64))
    ward_id: so.Mapped[int | None] = so.mapped_column(index=True)
    before: so.Mapped[str | None] = so.mapped_column(sa.Text)
    after: so.Mapped[str | None] = so.mapped_column(sa.Text)
    prev_hash: so.Mapped[str] = so.mapped_column(sa.String(64))
    hash: so.Mapped[str] = so.mapped_column(sa.String(64))
    seq: so.Mapped[int | None] = so.mapped_column(sa.BigInteger)
    mac: so.Mapped[str | None] = so.mapped_column(sa.String(64))

    def __repr__(self) -> str:
        return f"<AuditEvent {self.id} {self.action} {self.target_type}:{self.target_id}>"


# --- Published tables of past years (docs/results.md, "Last year's published table") -----------


class PublishedTable(Model):
    """A ward's compliance table of a past fiscal year as published in its annual report,
    imported by an admin (``app/services/results/published.py``) because that year's answers were
    never in Kijun. It fills the 前年度 columns of the next year's round; it carries rates
    only, never counts, so nothing about people is ever derived from it."""

    __tablename__ = "published_table"
    __table_args__ = (sa.UniqueConstraint("ward_id", "fiscal_year"),)

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    ward_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("ward.id"))
    fiscal_year: so.Mapped[int]
    # The catalogue of that year whose numbers the table's rows were matched through.
    catalogue_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("catalogue.id"), index=True)
    source: so.Mapped[str] = so.mapped_column(sa.String(200))  # the file's name
    imported_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime(), default=utcnow)
    imported_by_id: so.Mapped[int | None] = so.mapped_column(
        sa.ForeignKey("person.id", ondelete="SET NULL")
    )

    ward: so.Mapped[Ward] = so.relationship()
    catalogue: so.Mapped[Catalogue] = so.relationship()
    rates: so.Mapped[list[PublishedRate]] = so.relationship(
        back_populates="table", cascade="all, delete-orphan"
    )

    def __repr__(self) -> str:
        return f"<PublishedTable {self.ward_id} FY{self.fiscal_year}>"


class PublishedRate(Model):
    """One published rate: a standard (by key) and role, in tenths of a percent (993 is
    99.3); None where the table printed "-", ``hidden`` where it printed ＊."""

    __tablename__ = "published_rate"

    table_id: so.Mapped[int] = so.mapped_column(
        sa.ForeignKey("published_table.id", ondelete="CASCADE"), primary_key=True
    )
    standard_key: so.Mapped[str] = so.mapped_column(sa.String(64), primary_key=True)
    role: so.Mapped[Role] = so.mapped_column(_enum(Role, "role"), primary_key=True)
    # Tenths, not a Numeric: exact on SQLite as on PostgreSQL.
    rate_tenths: so.Mapped[int | None]
    hidden: so.Mapped[bool] = so.mapped_column(default=False)

    table: so.Mapped[PublishedTable] = so.relationship(back_populates="rates")


# --- Comments the committee hid (docs/results.md, "Comments") ---------------------------------


class HiddenComment(Model):
    """A comment the committee hid because it identifies someone: shown to nobody since.
    Exactly one of ``answer_id`` and ``section_answer_id`` is set."""

    __tablename__ = "hidden_comment"
    __table_args__ = (
        sa.CheckConstraint(
            "(answer_id IS NULL) <> (section_answer_id IS NULL)", name="one_answer"
        ),
    )

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    answer_id: so.Mapped[int | None] = so.mapped_column(
        sa.ForeignKey("answer.id", ondelete="CASCADE"), unique=True
    )
    section_answer_id: so.Mapped[int | None] = so.mapped_column(
        sa.ForeignKey("section_answer.id", ondelete="CASCADE"), unique=True
    )
    hidden_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime(), default=utcnow)
    hidden_by_id: so.Mapped[int | None] = so.mapped_column(
        sa.ForeignKey("person.id", ondelete="SET NULL")
    )


# --- Improvement actions on weak standards (docs/results.md, "Improvement actions") -------------


class ActionStatus(enum.StrEnum):
    """Where an improvement action stands (docs/results.md, "Improvement actions")."""

    TODO = "todo"  # 未着手
    DOING = "doing"  # 対応中
    DONE = "done"  # 完了
    DROPPED = "dropped"  # 見送り (with a reason)


# The statuses of an action still to be done: listed as open, mailed before the due date.
OPEN_ACTION_STATUSES: tuple[ActionStatus, ...] = (ActionStatus.TODO, ActionStatus.DOING)


class ImprovementAction(Model):
    """What the committee decided to do about a standard after a round closed: the action,
    the section that carries it out and the person in it who owns it (from the section's
    roster), by when, and where it stands; the owner records what was done and the evidence.
    The next year's round shows it beside the standard's rate before and after."""

    __tablename__ = "improvement_action"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    round_id: so.Mapped[int] = so.mapped_column(
        sa.ForeignKey("round.id", ondelete="CASCADE"), index=True
    )
    ward_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("ward.id"), index=True)
    standard_key: so.Mapped[str] = so.mapped_column(sa.String(64))
    action: so.Mapped[str] = so.mapped_column(sa.Text)
    section_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("section.id"), index=True)
    due: so.Mapped[date]
    outcome: so.Mapped[str | None] = so.mapped_column(sa.Text)
    outcome_at: so.Mapped[datetime | None] = so.mapped_column(UTCDateTime())
    created_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime(), default=utcnow)
    created_by_id: so.Mapped[int | None] = so.mapped_column(
        sa.ForeignKey("person.id", ondelete="SET NULL")
    )
    # None only for actions recorded before owners existed.
    owner_id: so.Mapped[int | None] = so.mapped_column(
        sa.ForeignKey("person.id", ondelete="SET NULL"), index=True
    )
    assigned_at: so.Mapped[datetime | None] = so.mapped_column(UTCDateTime())
    status: so.Mapped[ActionStatus] = so.mapped_column(
        _enum(ActionStatus, "action_status"),
        default=ActionStatus.TODO,
        server_default=ActionStatus.TODO.value,
    )
    status_reason: so.Mapped[str | None] = so.mapped_column(sa.Text)  # why 見送り
    evidence_url: so.Mapped[str | None] = so.mapped_column(sa.String(2000))  # http(s) only
    evidence_note: so.Mapped[str | None] = so.mapped_column(sa.Text)
    updated_at: so.Mapped[datetime | None] = so.mapped_column(UTCDateTime())

    section: so.Mapped[Section] = so.relationship()
    owner: so.Mapped[Person | None] = so.relationship(foreign_keys=[owner_id])
