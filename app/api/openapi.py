"""The OpenAPI 3.1 document of ``/api/v1``, written by hand (served at /api/v1/openapi.json).

Keep it in step with ``app/api/routes.py``: a test checks that every API route is described
and that the document is valid OpenAPI.
"""

from __future__ import annotations

from typing import Any

_NULLABLE_STRING = {"type": ["string", "null"]}
_ISO = {"type": "string", "format": "date-time", "examples": ["2026-11-01T09:00:00+09:00"]}


def _error(example_code: str, example_message: str) -> dict[str, Any]:
    return {
        "description": example_message,
        "content": {
            "application/json": {
                "schema": {"$ref": "#/components/schemas/Error"},
                "example": {"error": example_code, "message": example_message},
            }
        },
    }


_ROUND_ID = {
    "name": "round_id",
    "in": "path",
    "required": True,
    "description": "調査（回）の id（GET /api/v1/rounds の id）。",
    "schema": {"type": "integer", "minimum": 1},
}

_ROUND_PROPERTIES: dict[str, Any] = {
    "id": {"type": "integer"},
    "title": {"type": "string", "examples": ["令和7年度 区役所サービス基準 自己点検"]},
    "fiscal_year": {
        "type": "integer",
        "description": "年度（4月始まり）の西暦。",
        "examples": [2025],
    },
    "fiscal_year_label": {"type": "string", "examples": ["令和7年度"]},
    "opens_at": {**_ISO, "description": "受付開始（この時刻から回答できる）。"},
    "closes_at": {**_ISO, "description": "締切（この時刻からは回答できない）。"},
    "is_open": {"type": "boolean", "description": "opens_at <= 今 < closes_at。"},
}

_PROGRESS = {
    "type": "string",
    "enum": ["not_started", "draft", "submitted"],
    "description": "未回答・一時保存・提出済み。",
}
_ROLE = {"type": "string", "enum": ["staff", "chief"], "description": "職員・所属長。"}
_STATE = {
    "type": "string",
    "enum": ["shown", "empty", "hidden"],
    "description": (
        "shown: 表示する値。empty: 「-」（問われていない・回答できる人がいない）。"
        "hidden: 「＊」（人数が少ないため非表示。件数も率も null）。"
    ),
}
_RATE = {
    "type": ["number", "null"],
    "description": "遵守率（%、小数第1位）。表示しない欄は null。",
    "examples": [97.8],
}
_COUNT = {"type": ["integer", "null"], "minimum": 0}


def _role_pair(ref: str) -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["staff", "chief"],
        "properties": {"staff": {"$ref": ref}, "chief": {"$ref": ref}},
    }


def _compliance_schemas() -> dict[str, Any]:
    """Schemas of GET /api/v1/rounds/{round_id}/compliance."""
    response_rate = {"$ref": "#/components/schemas/ResponseRate"}
    return {
        "RoundSummary": {
            "type": "object",
            "required": ["id", "title", "fiscal_year", "fiscal_year_label", "wards"],
            "properties": {
                "id": {"type": "integer"},
                "title": {"type": "string"},
                "fiscal_year": {"type": "integer", "examples": [2025]},
                "fiscal_year_label": {"type": "string", "examples": ["令和7年度"]},
                "wards": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["id", "name"],
                        "properties": {"id": {"type": "integer"}, "name": {"type": "string"}},
                    },
                },
            },
        },
        "RateCell": {
            "type": "object",
            "required": ["complies", "not_complies", "not_applicable", "rate", "state"],
            "properties": {
                "complies": {**_COUNT, "description": "できている"},
                "not_complies": {**_COUNT, "description": "できていない"},
                "not_applicable": {**_COUNT, "description": "該当しない（率に入れない）"},
                "rate": _RATE,
                "state": _STATE,
            },
        },
        "PreviousCell": {
            "type": "object",
            "required": ["rate", "state", "imported"],
            "properties": {
                "rate": _RATE,
                "state": _STATE,
                "imported": {
                    "type": "boolean",
                    "description": (
                        "true: 前年度の調査がなく、公表された表から取り込んだ値（件数なし）。"
                    ),
                },
            },
        },
        "ResponseRate": {
            "type": "object",
            "required": ["expected", "submitted", "rate", "state"],
            "properties": {
                "expected": {**_COUNT, "description": "対象の人数（その年度の名簿）"},
                "submitted": {**_COUNT, "description": "提出した人数"},
                "rate": {**_RATE, "description": "回答率（%、小数第1位）。"},
                "state": _STATE,
            },
        },
        "ComplianceStandard": {
            "type": "object",
            "required": [
                "key", "number", "text", "scene", "audience", "previous_number", "roles",
                "previous",
            ],
            "properties": {
                "key": {"type": "string", "description": "年度をまたいで同じキー。"},
                "number": {"type": "integer"},
                "text": {"type": "string"},
                "scene": {"type": "string", "examples": ["応対"]},
                "audience": {
                    "type": "string",
                    "enum": ["everyone", "section"],
                    "description": "everyone: 一人ひとり。section: 所属長が課として答える。",
                },
                "previous_number": {
                    "type": ["integer", "null"],
                    "description": "前年度の番号（番号が変わった基準も同じキーで対応）。",
                },
                "roles": _role_pair("#/components/schemas/RateCell"),
                "previous": {
                    "oneOf": [_role_pair("#/components/schemas/PreviousCell"), {"type": "null"}],
                    "description": (
                        "前年度の遵守率。前年度の調査がなければ、取り込んだ公表値"
                        "（imported: true）。どちらもなければ null。"
                    ),
                },
            },
        },
        "Compliance": {
            "type": "object",
            "required": [
                "round", "previous_round", "group", "min_group_size", "rounding",
                "response_rates", "standards",
            ],
            "properties": {
                "round": {"$ref": "#/components/schemas/RoundSummary"},
                "previous_round": {
                    "oneOf": [{"$ref": "#/components/schemas/RoundSummary"}, {"type": "null"}]
                },
                "group": {
                    "type": "object",
                    "required": ["key", "level", "name"],
                    "properties": {
                        "key": {"type": "string", "examples": ["all", "ward:1", "section:12"]},
                        "level": {
                            "type": "string",
                            "enum": ["all", "ward", "department", "section"],
                        },
                        "name": {"type": "string"},
                    },
                },
                "min_group_size": {
                    "type": "integer",
                    "minimum": 3,
                    "description": "これより少ない人数の欄は hidden。",
                },
                "rounding": {"type": "string", "enum": ["half_up", "down"]},
                "response_rates": {
                    "type": "object",
                    "required": ["staff", "chief", "all"],
                    "properties": {
                        "staff": response_rate,
                        "chief": response_rate,
                        "all": response_rate,
                    },
                },
                "standards": {
                    "type": "array",
                    "items": {"$ref": "#/components/schemas/ComplianceStandard"},
                },
            },
        },
    }


def openapi_document() -> dict[str, Any]:
    """The OpenAPI 3.1 document as a dict."""
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Kijun API",
            "version": "1.0.0",
            "summary": "区役所サービス基準の自己点検: 自分の調査と回答、委員会の遵守率。",
            "description": (
                "サインインした人が自分の調査（回）を一覧し、チェックリストを読み、回答を保存・"
                "提出する。時刻は東京時間（+09:00）の ISO 8601。エラーは必ず JSON "
                '（{"error", "message"}、422 では "fields" も）。詳しくは docs/api.md。'
            ),
        },
        "servers": [{"url": "/"}],
        "security": [{"session": []}, {"sso": []}],
        "tags": [
            {"name": "checklist", "description": "自分の調査と回答"},
            {"name": "results", "description": "遵守率（委員会・管理者）"},
        ],
        "paths": {
            "/api/v1/rounds": {
                "get": {
                    "operationId": "listRounds",
                    "tags": ["checklist"],
                    "summary": "自分が回答する調査の一覧（新しい順）",
                    "responses": {
                        "200": {
                            "description": "調査の一覧",
                            "content": {
                                "application/json": {
                                    "schema": {
                                        "type": "object",
                                        "required": ["rounds"],
                                        "properties": {
                                            "rounds": {
                                                "type": "array",
                                                "items": {"$ref": "#/components/schemas/MyRound"},
                                            }
                                        },
                                    }
                                }
                            },
                        },
                        "401": {"$ref": "#/components/responses/Unauthorized"},
                    },
                }
            },
            "/api/v1/rounds/{round_id}/checklist": {
                "parameters": [_ROUND_ID],
                "get": {
                    "operationId": "getChecklist",
                    "tags": ["checklist"],
                    "summary": "自分のチェックリストと今の回答",
                    "responses": {
                        "200": {
                            "description": "チェックリスト",
                            "content": {
                                "application/json": {
                                    "schema": {"$ref": "#/components/schemas/Checklist"}
                                }
                            },
                        },
                        "401": {"$ref": "#/components/responses/Unauthorized"},
                        "404": {"$ref": "#/components/responses/NotFound"},
                    },
                },
                "put": {
                    "operationId": "saveChecklist",
                    "tags": ["checklist"],
                    "summary": "回答を保存する（submit が true なら提出も）",
                    "description": (
                        "answers に書かなかった基準は保存済みの回答のまま。提出は全項目に回答が"
                        "あるときだけ行われ、足りなければ一時保存して submitted: false と "
                        "missing を返す。受付期間の外は 409 で、何も変わらない。"
                    ),
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {"$ref": "#/components/schemas/SaveRequest"},
                                "example": {
                                    "answers": {"notice-media": "yes", "call-back": "na"},
                                    "comments": {"call-back": "窓口業務のため電話は受けない"},
                                    "submit": False,
                                },
                            }
                        },
                    },
                    "responses": {
                        "200": {
                            "description": "保存した後のチェックリスト",
                            "content": {
                                "application/json": {
                                    "schema": {"$ref": "#/components/schemas/SaveResult"}
                                }
                            },
                        },
                        "401": {"$ref": "#/components/responses/Unauthorized"},
                        "404": {"$ref": "#/components/responses/NotFound"},
                        "409": _error(
                            "closed",
                            "この調査は令和7年11月28日 17時15分に締め切られました。"
                            "回答は変更できません。",
                        ),
                        "415": _error(
                            "unsupported_media_type",
                            "Content-Type: application/json の本文で送ってください。",
                        ),
                        "422": {
                            "description": "本文や回答の誤り。何も保存していない。",
                            "content": {
                                "application/json": {
                                    "schema": {"$ref": "#/components/schemas/ValidationError"},
                                    "example": {
                                        "error": "invalid",
                                        "message": "回答に 1 件の誤りがあります。"
                                        "何も保存していません。",
                                        "fields": {
                                            "answers.notice-media": "できている（yes）・"
                                            "できていない（no）・該当しない（na）から"
                                            "選んでください。"
                                        },
                                    },
                                }
                            },
                        },
                    },
                },
            },
            "/api/v1/rounds/{round_id}/compliance": {
                "parameters": [_ROUND_ID],
                "get": {
                    "operationId": "getCompliance",
                    "tags": ["results"],
                    "summary": "調査の遵守率（基準ごと・職員と所属長・前年度）と回答率",
                    "description": (
                        "委員会と管理者だけ。区を限って任された人は、その区の分だけ読める"
                        "（ほかの区の調査は 404）。人数の少ない欄は state が hidden で、"
                        "件数も率も null。"
                    ),
                    "parameters": [
                        {
                            "name": "group",
                            "in": "query",
                            "required": False,
                            "description": (
                                "集計単位のキー（all、ward:ID、department:ID、section:ID）。"
                                "省略すると読める範囲の全体。"
                            ),
                            "schema": {"type": "string"},
                        }
                    ],
                    "responses": {
                        "200": {
                            "description": "遵守率",
                            "content": {
                                "application/json": {
                                    "schema": {"$ref": "#/components/schemas/Compliance"}
                                }
                            },
                        },
                        "401": {"$ref": "#/components/responses/Unauthorized"},
                        "403": _error("forbidden", "この操作はできません。"),
                        "404": _error("not_found", "調査が見つかりません。"),
                    },
                },
            },
            "/api/v1/openapi.json": {
                "get": {
                    "operationId": "getOpenApi",
                    "summary": "この API の OpenAPI 3.1 文書",
                    "security": [],
                    "responses": {
                        "200": {
                            "description": "OpenAPI 文書",
                            "content": {"application/json": {"schema": {"type": "object"}}},
                        }
                    },
                }
            },
        },
        "components": {
            "securitySchemes": {
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
                        "庁内のシングルサインオン: 認証済みのリバースプロキシが付ける"
                        "職員番号のヘッダー。名前は設定 AUTH_TRUSTED_HEADER で決まり、"
                        "設定がなければ使えない。"
                    ),
                },
            },
            "responses": {
                "Unauthorized": _error("unauthorized", "サインインしてください。"),
                "NotFound": _error("not_found", "この調査の対象ではありません。"),
            },
            "schemas": {
                **_compliance_schemas(),
                "Round": {
                    "type": "object",
                    "required": list(_ROUND_PROPERTIES),
                    "properties": _ROUND_PROPERTIES,
                },
                "MyRound": {
                    "type": "object",
                    "required": [*_ROUND_PROPERTIES, "status", "role", "section"],
                    "properties": {
                        **_ROUND_PROPERTIES,
                        "status": _PROGRESS,
                        "role": _ROLE,
                        "section": {"type": "string", "description": "所属（課）の名前。"},
                    },
                },
                "ChecklistItem": {
                    "type": "object",
                    "required": ["key", "number", "text", "scene", "part", "answer", "comment"],
                    "properties": {
                        "key": {
                            "type": "string",
                            "description": "基準のキー（年度をまたいで同じ）。",
                            "examples": ["notice-media"],
                        },
                        "number": {"type": "integer", "description": "その年度の番号。"},
                        "text": {"type": "string"},
                        "scene": {"type": "string", "examples": ["応対"]},
                        "part": {
                            "type": "string",
                            "enum": ["self", "section"],
                            "description": "self: 自分について。section: 所属長が課として。",
                        },
                        "answer": {
                            "type": ["string", "null"],
                            "enum": ["yes", "no", "na", None],
                            "description": "できている・できていない・該当しない。null は未回答。",
                        },
                        "comment": _NULLABLE_STRING,
                    },
                },
                "Checklist": {
                    "type": "object",
                    "required": [
                        "round",
                        "status",
                        "role",
                        "section",
                        "is_open",
                        "answered",
                        "total",
                        "items",
                    ],
                    "properties": {
                        "round": {"$ref": "#/components/schemas/Round"},
                        "status": _PROGRESS,
                        "role": _ROLE,
                        "section": {"type": "string"},
                        "is_open": {"type": "boolean"},
                        "answered": {"type": "integer", "minimum": 0},
                        "total": {"type": "integer", "minimum": 0},
                        "items": {
                            "type": "array",
                            "items": {"$ref": "#/components/schemas/ChecklistItem"},
                        },
                    },
                },
                "SaveRequest": {
                    "type": "object",
                    "additionalProperties": False,
                    "properties": {
                        "answers": {
                            "type": "object",
                            "description": (
                                "基準のキー → yes / no / na。書かない基準・空文字・null は"
                                "保存済みの回答のまま。"
                            ),
                            "additionalProperties": {
                                "type": ["string", "null"],
                                "enum": ["yes", "no", "na", "", None],
                            },
                        },
                        "comments": {
                            "type": "object",
                            "description": (
                                "基準のキー → ひとこと（1000 文字まで、前後の空白は除く）。"
                                "空文字で消す。書かない基準は保存済みのまま。"
                            ),
                            "additionalProperties": {"type": ["string", "null"], "maxLength": 1000},
                        },
                        "submit": {"type": "boolean", "default": False},
                    },
                },
                "SaveResult": {
                    "allOf": [
                        {"$ref": "#/components/schemas/Checklist"},
                        {
                            "type": "object",
                            "required": ["submitted", "missing"],
                            "properties": {
                                "submitted": {
                                    "type": "boolean",
                                    "description": "この保存で提出したか。",
                                },
                                "missing": {
                                    "type": "array",
                                    "items": {"type": "string"},
                                    "description": "まだ回答のない基準のキー。",
                                },
                            },
                        },
                    ]
                },
                "Error": {
                    "type": "object",
                    "required": ["error", "message"],
                    "properties": {
                        "error": {
                            "type": "string",
                            "enum": [
                                "bad_request",
                                "unauthorized",
                                "forbidden",
                                "not_found",
                                "method_not_allowed",
                                "closed",
                                "unsupported_media_type",
                                "invalid",
                                "server_error",
                            ],
                        },
                        "message": {"type": "string", "description": "人に見せる日本語の説明。"},
                    },
                },
                "ValidationError": {
                    "allOf": [
                        {"$ref": "#/components/schemas/Error"},
                        {
                            "type": "object",
                            "required": ["fields"],
                            "properties": {
                                "fields": {
                                    "type": "object",
                                    "description": (
                                        "誤りのある項目 → 説明。answers.<キー>、comments.<キー>、"
                                        "answers、comments、submit、body など。"
                                    ),
                                    "additionalProperties": {"type": "string"},
                                }
                            },
                        },
                    ]
                },
            },
        },
    }
