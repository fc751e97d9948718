"""The typed shapes of ``/api/v1``: what a request body may hold and what every reply holds.

These models are the API's contract in one place. The save body is validated through
``SaveRequest``, every reply is built through its model (``model_dump(mode="json")``), and
the OpenAPI document (``app.api.openapi``) is generated from their JSON Schemas, so the
document cannot say one thing while the code does another.

The docstrings and ``description`` texts of the models are the document's text, which is
Japanese (docs/language.md); a model's docstring is its schema's description.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    Strict,
    StringConstraints,
)
from pydantic.json_schema import DefsRef, GenerateJsonSchema, JsonSchemaValue
from pydantic_core import core_schema

from app.limits import MAX_ID
from app.models import AnswerValue, Audience, Role
from app.services.results.compliance import CellState, Level
from app.services.rounds.checklist import COMMENT_MAX_LENGTH, Part, Progress
from app.wareki import tokyo
from reports.rates import Rounding


class ErrorCode(enum.StrEnum):
    """エラーの種類（英語の固定のコード）。"""

    BAD_REQUEST = "bad_request"
    UNAUTHORIZED = "unauthorized"
    FORBIDDEN = "forbidden"
    NOT_FOUND = "not_found"
    METHOD_NOT_ALLOWED = "method_not_allowed"
    CLOSED = "closed"  # saving outside the round's open period
    NOT_FINAL = "not_final"  # results of a round not yet closed and counted (ResultsNotFinal)
    PAYLOAD_TOO_LARGE = "payload_too_large"
    UNSUPPORTED_MEDIA_TYPE = "unsupported_media_type"
    INVALID = "invalid"
    SERVER_ERROR = "server_error"


def city_time(moment: datetime) -> datetime:
    """An instant on the city's clock to the second, as the API writes it:
    ``2026-11-01T09:00:00+09:00``."""
    return tokyo(moment).replace(microsecond=0)


CityTime = Annotated[AwareDatetime, Field(examples=["2026-11-01T09:00:00+09:00"])]
Count = Annotated[int, Field(ge=0)] | None
Rate = Annotated[
    float | None,
    Field(description="遵守率（%、小数第1位）。表示しない欄は null。", examples=[97.8]),
]
State = Annotated[
    CellState,
    Field(
        description=(
            "shown: 表示する値。empty: 「-」（問われていない・回答できる人がいない）。"
            "hidden: 「＊」（人数が少ないため非表示。件数も率も null）。"
        )
    ),
]
RoleField = Annotated[Role, Field(description="職員（staff）・所属長（chief）。")]
ProgressField = Annotated[Progress, Field(description="未回答・一時保存・提出済み。")]


class Reply(BaseModel):
    """A reply body: built from the service's objects, validated on the way out."""

    model_config = ConfigDict(extra="forbid")


# --- Requests -----------------------------------------------------------------------------


class RoundPath(BaseModel):
    """The path of a round's resources."""

    round_id: Annotated[
        int,
        Field(
            ge=1,
            # The largest id the database stores; a larger one is 404 like an unknown id.
            le=MAX_ID,
            description="調査（回）の id（GET /api/v1/rounds の id）。",
        ),
    ]


class ComplianceQuery(BaseModel):
    """The query of GET /api/v1/rounds/{round_id}/compliance."""

    group: Annotated[
        str | None,
        Field(
            description=(
                "集計単位のキー（all、ward:ID、department:ID、section:ID）。"
                "省略すると読める範囲の全体。"
            ),
            # No control character: the query is refused before the view (400, BadAddress).
            pattern="^[^\\x00-\\x1f]*$",
        ),
    ] = None


Comment = Annotated[str, StringConstraints(strip_whitespace=True, max_length=COMMENT_MAX_LENGTH)]


class SaveRequest(BaseModel):
    """保存する回答。どの項目も省略できる。"""

    # Strict: "yes" is not a boolean and 1 is not an answer; unknown members are refused.
    # (An answer is matched by its value: strict mode would want an AnswerValue object.)
    model_config = ConfigDict(extra="forbid", strict=True)

    answers: dict[str, Annotated[AnswerValue, Strict(False)] | Literal[""] | None] = Field(
        default_factory=dict,
        description=(
            "基準のキー → yes / no / na。書かない基準・空文字・null は保存済みの回答のまま。"
            "answers 自体はオブジェクトだけ（null は 422）。"
        ),
    )
    comments: dict[str, Comment | None] = Field(
        default_factory=dict,
        description=(
            f"基準のキー → ひとこと（{COMMENT_MAX_LENGTH} 文字まで、前後の空白は除く）。"
            "空文字で消す。書かない基準は保存済みのまま。NUL と対になっていないサロゲートは"
            "使えない（422）。comments 自体はオブジェクトだけ（null は 422）。"
        ),
    )
    submit: bool = Field(default=False, description="true なら提出もする。")


# --- Replies: the person's rounds and checklist -------------------------------------------


class Round(Reply):
    """調査（回）。"""

    id: int
    title: str = Field(examples=["令和7年度 区役所サービス基準 自己点検"])
    fiscal_year: int = Field(description="年度（4月始まり）の西暦。", examples=[2025])
    fiscal_year_label: str = Field(examples=["令和7年度"])
    opens_at: CityTime = Field(description="受付開始（この時刻から回答できる）。")
    closes_at: CityTime = Field(description="締切（この時刻からは回答できない）。")
    is_open: bool = Field(description="opens_at <= 今 < closes_at。")


class MyRound(Round):
    """自分が回答する調査と、その進み具合。"""

    status: ProgressField
    role: RoleField
    section: str = Field(description="所属（課）の名前。")


class RoundList(Reply):
    """自分が回答する調査の一覧（新しい順）。"""

    rounds: list[MyRound]


class ChecklistItem(Reply):
    """チェックリストの一項目と、今の回答。"""

    key: str = Field(description="基準のキー（年度をまたいで同じ）。", examples=["notice-media"])
    number: int = Field(description="その年度の番号。")
    text: str
    scene: str = Field(examples=["応対"])
    part: Part = Field(description="self: 自分について。section: 所属長が課として。")
    answer: AnswerValue | None = Field(
        description="できている（yes）・できていない（no）・該当しない（na）。null は未回答。"
    )
    comment: str | None


class Checklist(Reply):
    """自分のチェックリストと今の回答。"""

    round: Round
    status: ProgressField
    role: RoleField
    section: str
    is_open: bool
    answered: int = Field(ge=0)
    total: int = Field(ge=0)
    items: list[ChecklistItem]


class SaveResult(Checklist):
    """保存した後のチェックリストと、提出の結果。"""

    submitted: bool = Field(description="この保存で提出したか。")
    missing: list[str] = Field(description="まだ回答のない基準のキー。")


# --- Replies: compliance results ----------------------------------------------------------


class Ward(Reply):
    """区。"""

    id: int
    name: str


class RoundSummary(Reply):
    """遵守率の調査（回）と、その対象の区。"""

    id: int
    title: str
    fiscal_year: int = Field(examples=[2025])
    fiscal_year_label: str = Field(examples=["令和7年度"])
    wards: list[Ward]


class RateCell(Reply):
    """一つの欄の件数と遵守率。"""

    complies: Count = Field(description="できている")
    not_complies: Count = Field(description="できていない")
    not_applicable: Count = Field(description="該当しない（率に入れない）")
    rate: Rate
    state: State


class PreviousCell(Reply):
    """前年度の欄の遵守率。"""

    rate: Rate
    state: State
    imported: bool = Field(
        description="true: 前年度の調査がなく、公表された表から取り込んだ値（件数なし）。"
    )


class RateCells(Reply):
    """職員と所属長の欄。"""

    staff: RateCell
    chief: RateCell


class PreviousCells(Reply):
    """前年度の職員と所属長の欄。"""

    staff: PreviousCell
    chief: PreviousCell


class ResponseRate(Reply):
    """回答率。"""

    expected: Count = Field(description="対象の人数（その年度の名簿）")
    submitted: Count = Field(description="提出した人数")
    rate: Annotated[float | None, Field(description="回答率（%、小数第1位）。", examples=[96.5])]
    state: State


class ResponseRates(Reply):
    """職員・所属長・全体の回答率。"""

    staff: ResponseRate
    chief: ResponseRate
    all: ResponseRate


class Group(Reply):
    """集計単位。"""

    key: str = Field(examples=["all", "ward:1", "section:12"])
    level: Level
    name: str


class ComplianceStandard(Reply):
    """基準ごとの遵守率。"""

    key: str = Field(description="年度をまたいで同じキー。")
    number: int
    text: str
    scene: str = Field(examples=["応対"])
    audience: Audience = Field(
        description="everyone: 一人ひとり。section: 所属長が課として答える。"
    )
    previous_number: int | None = Field(
        description="前年度の番号（番号が変わった基準も同じキーで対応）。"
    )
    roles: RateCells
    previous: PreviousCells | None = Field(
        description=(
            "前年度の遵守率。前年度の調査がなければ、取り込んだ公表値（imported: true）。"
            "どちらもなければ null。"
        )
    )


class Compliance(Reply):
    """調査の遵守率（基準ごと・職員と所属長・前年度）と回答率。"""

    round: RoundSummary
    previous_round: RoundSummary | None
    group: Group
    min_group_size: int = Field(ge=3, description="これより少ない人数の欄は hidden。")
    rounding: Rounding
    response_rates: ResponseRates
    standards: list[ComplianceStandard]


# --- Replies: errors ----------------------------------------------------------------------


class Error(Reply):
    """エラー。"""

    error: ErrorCode
    message: str = Field(description="人に見せる説明（日本語、lang=en の Cookie では英語）。")


class ValidationError(Error):
    """本文や回答の誤り（422）。何も保存していない。"""

    fields: dict[str, str] = Field(
        description=(
            "誤りのある項目 → 説明。answers.<キー>、comments.<キー>、"
            "answers、comments、submit、body など。"
        )
    )


class DocumentSchema(GenerateJsonSchema):
    """Pydantic's JSON Schema, as the OpenAPI document shows it: no generated English titles
    on members ("Fiscal Year"), and the enums of app.models are described by the members
    that use them (in Japanese), not by their Python docstrings."""

    def field_title_should_be_set(self, schema: Any) -> bool:
        return False

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._foreign_enums: set[str] = set()

    def enum_schema(self, schema: core_schema.EnumSchema) -> JsonSchemaValue:
        if schema["cls"].__module__ != __name__:
            self._foreign_enums.add(schema["cls"].__name__)
        return super().enum_schema(schema)

    def generate_definitions(self, inputs: Any) -> Any:
        # The docstring comes back as the description after enum_schema: drop it here.
        mapping, definitions = super().generate_definitions(inputs)
        for name in self._foreign_enums:
            definitions[DefsRef(name)].pop("description", None)
        return mapping, definitions
