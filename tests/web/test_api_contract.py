"""The API keeps its OpenAPI document: schemathesis generates requests from
/api/v1/openapi.json (valid and invalid ones) and checks every answer against it, signed in as
staff, chief and committee, on the in-process app. Bounded and deterministic: a fixed number
of examples per person, derandomized, no example database."""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from flask import Flask
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.config import SchemathesisConfig

from app.extensions import db
from app.models import Grant, GrantRole, Role
from tests import factories

# Enough to reach ids past the database's integers, nulls for objects and other media types
# within seconds per person (the three people take 15–30 s per database on two cores).
EXAMPLES_PER_PERSON = 150
# Every built-in check; a request that fits the schema may still be refused with 422 when it
# names a standard that is not in the round (the schema cannot list a round's keys), and 422
# is documented for it.
CONFIG = SchemathesisConfig.from_dict(
    {
        "checks": {
            "positive_data_acceptance": {
                "expected-statuses": ["2xx", "401", "403", "404", "409", "422"]
            }
        }
    }
)


@pytest.fixture
def world(app):
    """An open round of three standards (one a section standard) in 高津区, a staff member
    and a chief of 区民課 who answer it, and a committee member of 高津区."""
    with app.app_context():
        catalogue = factories.catalogue("contract-2025", standards=3)
        factories.section_standards(catalogue, (24, ()))
        section = factories.section("区民課")
        staff = factories.person(section=section)
        chief = factories.person(section=section, role=Role.CHIEF)
        committee = factories.person()
        committee.grants.append(Grant(role=GrantRole.COMMITTEE, ward_id=section.ward_id))
        open_round = factories.round_(catalogue)
        db.session.commit()
        return {
            "round": open_round.id,
            "people": {"staff": staff.id, "chief": chief.id, "committee": committee.id},
        }


def _session_cookie(app: Flask, person_id: int) -> str:
    """The session cookie of a signed-in person, as the sign-in page would set it."""
    client = app.test_client()
    with client.session_transaction() as session:
        session["_user_id"] = str(person_id)
        session["_fresh"] = True
    cookie = client.get_cookie("session")
    assert cookie is not None
    return cookie.value


@pytest.mark.parametrize("who", ["staff", "chief", "committee"])
def test_the_api_answers_as_its_openapi_document_says(app, world, who):
    """Generated requests, valid and invalid, never get a 5xx nor an answer (status, media
    type, body) that the OpenAPI document does not describe."""
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app, config=CONFIG)
    # The session cookie is fixed in the cases (else a made-up one is generated in its place)
    # and sent as a Cookie header, which schemathesis takes for real credentials: it then
    # checks that the API refuses the same request without them or with made-up ones.
    session = _session_cookie(app, world["people"][who])
    headers = {"Cookie": f"session={session}"}
    # Half of the cases aim at the open round that the person answers, the rest anywhere.
    cases = st.one_of(
        *(
            schema.as_strategy(mode, path_parameters=fixed, cookies={"session": session})
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
            for fixed in ({"round_id": world["round"]}, None)
        )
    )

    @settings(
        max_examples=EXAMPLES_PER_PERSON,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )
    @given(case=cases)
    def check(case: schemathesis.Case[Any]) -> None:
        case.call_and_validate(headers=headers)

    check()
