"""The OpenAPI 3.1 document of ``/api/v1`` (served at /api/v1/openapi.json), generated.

Nothing here describes a body by hand: the schemas are the JSON Schemas of the models in
``app/api/schemas.py`` (the ones the views validate requests with and build replies from), the
paths and methods are the app's URL rules, and who may call an operation (its security, 401 and
403) is its view's ``@access``. What is left is a small table per view, ``OPERATIONS``: its
words (Japanese), its models and its error answers. A rule under ``/api/`` without an entry, or
an entry without a rule, makes the document fail to build (tests/web/test_api.py).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, cast

from flask import Flask
from pydantic import BaseModel
from pydantic.json_schema import JsonSchemaMode, models_json_schema

from app.api.schemas import (
    Checklist,
    Compliance,
    ComplianceQuery,
    DocumentSchema,
    Error,
    ErrorCode,
    RoundList,
    RoundPath,
    SaveRequest,
    SaveResult,
    ValidationError,
)

SCHEMAS = "#/components/schemas/{model}"


@dataclass(frozen=True)
class Answer:
    """One documented answer of an operation: its description, the model of its body (None:
    any JSON object) and an example body built through that model."""

    description: str
    model: type[BaseModel] | None = None
    example: BaseModel | None = None


def error(code: ErrorCode, message: str) -> Answer:
    """An error answer whose description is the example's message."""
    return Answer(message, Error, Error(error=code, message=message))


# Answers shared by several operations, as components/responses.
SHARED: dict[str, Answer] = {
    "Unauthorized": error(ErrorCode.UNAUTHORIZED, "サインインしてください。"),
    "Forbidden": error(ErrorCode.FORBIDDEN, "この操作はできません。"),
    # Any operation: a control character in the path or the query, or a page number past the
    # database's integers (app/limits.py, before any view runs).
    "BadAddress": error(
        ErrorCode.BAD_REQUEST,
        "アドレス（URL）に使えない文字（NUL などの制御文字）が入っています。"
        "リンクやブックマークのアドレスを確かめてください。",
    ),
    "NotFound": error(ErrorCode.NOT_FOUND, "この調査の対象ではありません。"),
    "TooLarge": error(
        ErrorCode.PAYLOAD_TOO_LARGE,
        "送られた内容が大きすぎます。（本文は MAX_CONTENT_LENGTH まで、既定 2 MB）",
    ),
}


@dataclass(frozen=True)
class Operation:
    """What the document says of one view beyond its models' schemas."""

    operation_id: str
    summary: str
    answers: dict[int, Answer | str]  # a str names a SHARED answer
    description: str | None = None
    tag: str | None = None
    path: type[BaseModel] | None = None
    query: type[BaseModel] | None = None
    body: type[BaseModel] | None = None
    body_example: BaseModel | None = None
    extra: dict[str, Any] = field(default_factory=dict)


# By the view's endpoint. 401 and 403 are added from the view's @access, 400 (BadAddress)
# to every operation.
OPERATIONS: dict[str, Operation] = {
    "api.rounds": Operation(
        operation_id="listRounds",
        tag="checklist",
        summary="自分が回答する調査の一覧（新しい順）",
        answers={200: Answer("調査の一覧", RoundList)},
    ),
    "api.checklist": Operation(
        operation_id="getChecklist",
        tag="checklist",
        summary="自分のチェックリストと今の回答",
        path=RoundPath,
        answers={200: Answer("チェックリスト", Checklist), 404: "NotFound"},
    ),
    "api.save": Operation(
        operation_id="saveChecklist",
        tag="checklist",
        summary="回答を保存する（submit が true なら提出も）",
        description=(
            "answers に書かなかった基準は保存済みの回答のまま。提出は全項目に回答が"
            "あるときだけ行われ、足りなければ一時保存して submitted: false と "
            "missing を返す。受付期間の外は 409 で、何も変わらない。"
        ),
        path=RoundPath,
        body=SaveRequest,
        body_example=SaveRequest.model_validate(
            {
                "answers": {"notice-media": "yes", "call-back": "na"},
                "comments": {"call-back": "窓口業務のため電話は受けない"},
                "submit": False,
            }
        ),
        answers={
            200: Answer("保存した後のチェックリスト", SaveResult),
            404: "NotFound",
            409: error(
                ErrorCode.CLOSED,
                "この調査は令和7年11月28日 17時15分に締め切られました。回答は変更できません。",
            ),
            413: "TooLarge",
            415: error(
                ErrorCode.UNSUPPORTED_MEDIA_TYPE,
                "Content-Type: application/json の本文で送ってください。"
                "（application/json 以外は、+json の形式も受け付けない）",
            ),
            422: Answer(
                "本文や回答の誤り（JSON として読めない本文、入れ子が深すぎる本文、"
                "オブジェクトでない answers・comments、この調査にない基準、NUL や対に"
                "なっていないサロゲートを含むひとこと など）。何も保存していない。",
                ValidationError,
                ValidationError(
                    error=ErrorCode.INVALID,
                    message="回答に 1 件の誤りがあります。何も保存していません。",
                    fields={
                        "answers.notice-media": "できている（yes）・できていない（no）・"
                        "該当しない（na）から選んでください。"
                    },
                ),
            ),
        },
    ),
    "api.compliance": Operation(
        operation_id="getCompliance",
        tag="results",
        summary="調査の遵守率（基準ごと・職員と所属長・前年度）と回答率",
        description=(
            "委員会と管理者だけ。区を限って任された人は、その区の分だけ読める"
            "（ほかの区の調査は 404）。人数の少ない欄は state が hidden で、件数も率も null。"
        ),
        path=RoundPath,
        query=ComplianceQuery,
        answers={
            200: Answer("遵守率", Compliance),
            404: error(ErrorCode.NOT_FOUND, "調査が見つかりません。"),
            409: error(
                ErrorCode.NOT_FINAL,
                "この調査は受付中です。遵守率は締め切りのあとに表示します。",
            ),
        },
    ),
    "api.openapi": Operation(
        operation_id="getOpenApi",
        summary="この API の OpenAPI 3.1 文書",
        answers={200: Answer("OpenAPI 文書")},
    ),
}

INFO = {
    "title": "Kijun API",
    "version": "1.0.0",
    "summary": "区役所サービス基準の自己点検: 自分の調査と回答、委員会の遵守率。",
    "description": (
        "サインインした人が自分の調査（回）を一覧し、チェックリストを読み、回答を保存・"
        "提出する。時刻は東京時間（+09:00）の ISO 8601。エラーは必ず JSON "
        '（{"error", "message"}、422 では "fields" も）。本文は Content-Type: '
        "application/json だけ（ほかは 415）、大きさは MAX_CONTENT_LENGTH まで"
        "（超えると 413）。文書にない方法は 405（Allow ヘッダー付き）。"
        "詳しくは docs/api.md。"
    ),
}
TAGS = [
    {"name": "checklist", "description": "自分の調査と回答"},
    {"name": "results", "description": "遵守率（委員会・管理者）"},
]
SECURITY_SCHEMES = {
    "session": {
        "type": "apiKey",
        "in": "cookie",
        "name": "session",
        "description": "サインイン画面で得るセッション Cookie（SameSite=Lax）。",
    },
    "sso": {
        "type": "apiKey",
        "in": "header",
        "name": "X-Remote-User",
        "description": (
            "庁内のシングルサインオン: 認証済みのリバースプロキシが付ける職員番号のヘッダー。"
            "名前は設定 AUTH_TRUSTED_HEADER で決まり、設定がなければ使えない。"
        ),
    },
}
IGNORED_METHODS = frozenset({"HEAD", "OPTIONS"})


def openapi_path(rule: str) -> str:
    """A werkzeug rule as an OpenAPI path: ``/rounds/<int:round_id>`` → ``/rounds/{round_id}``."""
    return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule)


def _models() -> list[tuple[type[BaseModel], JsonSchemaMode]]:
    """Every model the document names: request models as validated, replies as dumped."""
    requests: list[type[BaseModel]] = []
    replies: list[type[BaseModel]] = [Error]
    for op in OPERATIONS.values():
        requests += [m for m in (op.path, op.query, op.body) if m is not None]
        answers = [a if isinstance(a, Answer) else SHARED[a] for a in op.answers.values()]
        replies += [a.model for a in answers if a.model is not None]
    inputs: list[tuple[type[BaseModel], JsonSchemaMode]] = []
    for models, mode in ((requests, "validation"), (replies, "serialization")):
        for model in models:
            if (model, mode) not in inputs:
                inputs.append((model, cast(JsonSchemaMode, mode)))
    return inputs


def _parameters(model: type[BaseModel], where: str, schemas: dict[str, Any]) -> list[Any]:
    """The members of a path or query model as OpenAPI parameters (the model itself is not a
    component: its members are)."""
    schema = schemas[model.__name__]
    required = set(schema.get("required", ()))
    parameters = []
    for name, member in schema["properties"].items():
        member = dict(member)
        description = member.pop("description", None)
        member.pop("default", None)
        if "anyOf" in member and {"type": "null"} in member["anyOf"]:  # optional: absent
            member = next(s for s in member["anyOf"] if s != {"type": "null"})
        parameters.append(
            {
                "name": name,
                "in": where,
                "required": where == "path" or name in required,
                **({"description": description} if description else {}),
                "schema": member,
            }
        )
    return parameters


def _content(answer: Answer) -> dict[str, Any]:
    schema = {"$ref": SCHEMAS.format(model=answer.model.__name__)} if answer.model else None
    media: dict[str, Any] = {"schema": schema or {"type": "object"}}
    if answer.example is not None:
        media["example"] = answer.example.model_dump(mode="json")
    return {"description": answer.description, "content": {"application/json": media}}


def _operation(op: Operation, audiences: frozenset[str], schemas: dict[str, Any]) -> Any:
    """One operation's object: its words, parameters, body and answers."""
    answers: dict[int, Answer | str] = dict(op.answers)
    answers.setdefault(400, "BadAddress")
    document: dict[str, Any] = {"operationId": op.operation_id}
    if op.tag:
        document["tags"] = [op.tag]
    document["summary"] = op.summary
    if op.description:
        document["description"] = op.description
    if "public" in audiences:
        document["security"] = []
    else:
        answers[401] = "Unauthorized"
        if "person" not in audiences:
            answers.setdefault(403, "Forbidden")
    parameters = []
    if op.path is not None:
        parameters += _parameters(op.path, "path", schemas)
    if op.query is not None:
        parameters += _parameters(op.query, "query", schemas)
    if parameters:
        document["parameters"] = parameters
    if op.body is not None:
        media: dict[str, Any] = {"schema": {"$ref": SCHEMAS.format(model=op.body.__name__)}}
        if op.body_example is not None:
            media["example"] = op.body_example.model_dump(mode="json", exclude_unset=True)
        document["requestBody"] = {"required": True, "content": {"application/json": media}}
    document["responses"] = {
        str(status): (
            {"$ref": f"#/components/responses/{answer}"}
            if isinstance(answer, str)
            else _content(answer)
        )
        for status, answer in sorted(answers.items())
    }
    return document


def openapi_document(app: Flask) -> dict[str, Any]:
    """The OpenAPI 3.1 document of the app's API routes, from ``OPERATIONS`` and the models.

    Raises LookupError for an API route without an entry in ``OPERATIONS`` or an entry that no
    route has, and ValueError when a path model's members are not the rule's arguments.
    """
    _, top = models_json_schema(_models(), ref_template=SCHEMAS, schema_generator=DocumentSchema)
    schemas: dict[str, Any] = top["$defs"]
    paths: dict[str, dict[str, Any]] = {}
    described: set[str] = set()
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        if not rule.rule.startswith("/api/"):
            continue
        if rule.endpoint not in OPERATIONS:
            raise LookupError(f"{rule.endpoint} ({rule.rule}) is not in OPERATIONS")
        op = OPERATIONS[rule.endpoint]
        if set(op.path.model_fields if op.path else ()) != set(rule.arguments):
            raise ValueError(f"{rule.endpoint}: path model does not name {rule.arguments}")
        view = app.view_functions[rule.endpoint]
        audiences: frozenset[str] = getattr(view, "access", frozenset())
        for method in sorted((rule.methods or set()) - IGNORED_METHODS):
            paths.setdefault(openapi_path(rule.rule), {})[method.lower()] = _operation(
                op, audiences, schemas
            )
        described.add(rule.endpoint)
    if set(OPERATIONS) - described:
        raise LookupError(f"no API route for {sorted(set(OPERATIONS) - described)}")
    for op in OPERATIONS.values():  # the members of these became parameters
        for model in (op.path, op.query):
            if model is not None:
                schemas.pop(model.__name__, None)
    return {
        "openapi": "3.1.0",
        "info": INFO,
        "servers": [{"url": "/"}],
        "security": [{"session": []}, {"sso": []}],
        "tags": TAGS,
        "paths": paths,
        "components": {
            "securitySchemes": SECURITY_SCHEMES,
            "responses": {name: _content(answer) for name, answer in SHARED.items()},
            "schemas": schemas,
        },
    }
