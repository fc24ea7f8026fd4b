"""schemathesis for longer: more examples per operation, and chains of calls that follow
what each answer creates (a verification to its result, a record to its QR codes, file
and service events). Same checks as tests/api/test_schema.py, about half a minute in all.

The chains are stateful tests: the schema gains OpenAPI links (here, not in the served
schema) from each creating operation to the operations that read what it made, and
schemathesis walks them with real ids taken from the answers.
"""

import hypothesis
import pytest
import schemathesis
from django.core.wsgi import get_wsgi_application
from hypothesis import HealthCheck
from hypothesis import strategies as st

from tests.api import test_schema as served
from tests.api.conftest import World
from tests.api.test_schema import _HEX64, CHECKS, SETTINGS, flatmap_path_parameters

pytestmark = pytest.mark.slow
court_world = served.court_world  # the fixture: the world, its ids offered to generation

# Twice the examples of test_schema.py per operation; other cases (another test name).
LONG = hypothesis.settings(SETTINGS, max_examples=60)


@served.schema.parametrize()
@LONG
def test_api_conforms_with_more_examples(case, court_world):
    served._point_coverage_at_real_records(case, court_world)
    case.call_and_validate(headers=court_world.headers(case.method, case.path), checks=CHECKS)


# --- Chains of calls --------------------------------------------------------------------

schema = schemathesis.openapi.from_wsgi("/api/schema/", get_wsgi_application())
schema.hook(flatmap_path_parameters)

# A record the court API accepts: a chain that starts by making one goes on to read it.
_RECORD = st.fixed_dictionaries(
    {
        "sha256": _HEX64,
        "sm3": _HEX64,
        "category": st.sampled_from(["litigation_document", "evidence", "mediation"]),
        "title": st.sampled_from(["民事判决书", "聊天记录", "调解协议书"]),
    }
)


@schema.hook
def flatmap_body(context, body):
    """The bodies test_schema.py sends, and more records the court API accepts."""
    sent = served.flatmap_body(context, body)
    if not isinstance(body, dict) or "file" in body:
        return sent
    if context.operation.path == "/api/v1/records":
        return sent | _RECORD
    if context.operation.path == "/api/v1/records/batch":
        return sent | st.lists(_RECORD, min_size=1, max_size=3).map(lambda r: {"records": r})
    return sent


_CODE = {"code": "$response.body#/code"}
# What each creating operation's answer leads to: (status, target operation, parameters).
LINKS: dict[tuple[str, str], list[tuple[str, str, str, dict[str, str]]]] = {
    ("post", "/api/v1/verifications"): [
        (
            "202",
            "get",
            "/api/v1/verifications/{verification_id}",
            {"verification_id": "$response.body#/id"},
        ),
    ],
    ("post", "/api/v1/verifications/batch"): [
        ("202", "get", "/api/v1/verifications/batch/{batch}", {"batch": "$response.body#/batch"}),
        (
            "202",
            "get",
            "/api/v1/verifications/{verification_id}",
            {"verification_id": "$response.body#/items/0/id"},
        ),
    ],
    ("post", "/api/v1/records"): [
        ("201", "get", "/api/v1/records/{code}", _CODE),
        ("201", "get", "/api/v1/records/{code}/qr.png", _CODE),
        ("201", "get", "/api/v1/records/{code}/qr.svg", _CODE),
        ("201", "get", "/api/v1/records/{code}/file", _CODE),
        ("201", "post", "/api/v1/records/{code}/events", _CODE),
    ],
    ("post", "/api/v1/records/batch"): [
        ("201", "get", "/api/v1/records/{code}", {"code": "$response.body#/records/0/code"}),
        (
            "201",
            "post",
            "/api/v1/records/{code}/events",
            {"code": "$response.body#/records/0/code"},
        ),
    ],
}


def _add_links(raw: dict) -> None:
    """OpenAPI links from each creating operation's answer to what reads its result."""
    for (method, path), links in LINKS.items():
        for status, target_method, target, parameters in links:
            pointer = target.replace("~", "~0").replace("/", "~1")
            name = f"{target_method}{target}".replace("/", "_").replace("{", "").replace("}", "")
            response = raw["paths"][path][method]["responses"][status]
            response.setdefault("links", {})[name] = {
                "operationRef": f"#/paths/{pointer}/{target_method}",
                "parameters": parameters,
            }


_add_links(schema.raw_schema)
CHAINS = hypothesis.settings(
    max_examples=80,
    stateful_step_count=10,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)


class Chains(schema.as_state_machine()):
    """Each step a call, with the court's token on the court API, checked as above."""

    world: World

    def get_call_kwargs(self, case):
        return {"headers": self.world.headers(case.method, case.path)}

    def validate_response(self, response, case, additional_checks=None, **kwargs):
        case.validate_response(response, checks=CHECKS, transport_kwargs=kwargs)


def test_chains_of_calls_conform(court_world):
    Chains.world = court_world
    Chains.run(settings=CHAINS)
