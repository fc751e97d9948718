"""Benchmark 4: one reminder tick for every non-respondent, to a local SMTP sink.

The reminders (issue 4) are being built separately; until their service is on main this
benchmark reports that it was not run, with the reason, instead of failing.
"""

from __future__ import annotations

import importlib.util
from typing import Any


def run(database_url: str) -> dict[str, Any]:
    if importlib.util.find_spec("app.services.schedule") is None:
        return {"available": False,
                "reason": "the reminders (issue 4: app.services.schedule, app.services.mail) "
                          "are not on main yet"}
    return {"available": False, "reason": "the reminder benchmark is not written yet"}
