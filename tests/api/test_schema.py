"""schemathesis against /api/schema/: no server error, no undocumented status, no stray body.

The schema is fetched from the Django app itself, in-process over WSGI, and every
operation it lists becomes one test (`test_api_conforms[METHOD /path]`): schemathesis's
stateless phases (examples, coverage, fuzzing; valid and invalid data) send requests to
the same in-process app and check each answer. Court API operations carry the court's
token; they are run once more without it, where the answer must be a documented 401.
"""

import hypothesis
import pytest
import schemathesis
from django.core.wsgi import get_wsgi_application
from hypothesis import HealthCheck
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.core.parameters import ParameterLocation
from schemathesis.generation.meta import TestPhase
from schemathesis.generation.modes import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

schema = schemathesis.openapi.from_wsgi("/api/schema/", get_wsgi_application())

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]

SETTINGS = hypothesis.settings(
    max_examples=30,
    deadline=None,
    derandomize=True,  # the same cases every run, so that the xfails below stay strict
    database=None,
    suppress_health_check=list(HealthCheck),
)

# Defects of the project these tests found, by test item. Each is a strict xfail (see
# conftest.py): once fixed, the item passes, fails as XPASS, and its entry goes.
# Items that fail for a known defect of the project, by item name, with the reason. They
# are strict expected failures (see conftest.py): once fixed, remove them from here.
KNOWN_DEFECTS: dict[str, str] = {}

# Filled by the `world` fixture before any case is generated: real record codes,
# verification ids and batch ids, so that the happy paths are reached too.
_PATH_VALUES: dict[str, list[str]] = {}


@schema.hook
def flatmap_path_parameters(context, path_parameters):
    """Use, besides the generated path parameters, the ones of the records that exist."""
    choices = [path_parameters]
    for name in path_parameters or ():
        choices += [{**path_parameters, name: value} for value in _PATH_VALUES.get(name, ())]
    return st.sampled_from(choices)


@pytest.fixture
def court_world(world):
    _PATH_VALUES.update(world.path_values)
    yield world
    _PATH_VALUES.clear()


# The schema calls digests plain strings, so generated ones are never well-formed, and
# a random service event is almost never one a court may record: also send accepted
# bodies, to reach (and check) the 201/202 answers.
_HEX64 = st.text("0123456789abcdef", min_size=64, max_size=64)
_TAKES_DIGESTS = {"/api/v1/records", "/api/v1/verifications"}
# Service events a court may record, in order (on the litigation document of `world`).
_COURT_EVENTS = [{"event": "issued"}, {"event": "sent", "channel": "sms", "addressee": "李四"}]


@schema.hook
def flatmap_body(context, body):
    """Use, besides the generated body, one the portal accepts."""
    if context.operation.path == "/api/v1/records/{code}/events":
        return st.sampled_from([body, *_COURT_EVENTS])
    if not isinstance(body, dict) or "file" in body:
        return st.just(body)
    if context.operation.path == "/api/v1/verifications/batch":
        items = st.lists(st.fixed_dictionaries({"sha256": _HEX64}), min_size=1, max_size=3)
        return st.just(body) | items.map(lambda items: {**body, "items": items})
    if context.operation.path in _TAKES_DIGESTS:
        digests = st.fixed_dictionaries({"sha256": _HEX64, "sm3": _HEX64})
        return st.just(body) | digests.map(lambda digests: {**body, **digests})
    return st.just(body)


def _point_coverage_at_real_records(case, world) -> None:
    """Point the coverage phase's valid path parameters at the records of `world`.

    That phase uses one made-up value per path parameter ("0"), so everything after the
    lookup would be reached only by chance in fuzzing: with the real values, the coverage
    cases (deterministic) check the found-record answers. Fuzzing keeps the made-up ones
    too (flatmap_path_parameters), and so the not-found answers.
    """
    meta = case.meta
    if meta is None or meta.phase.name != TestPhase.COVERAGE or not case.path_parameters:
        return
    path = meta.components.get(ParameterLocation.PATH)
    if path is not None and path.mode != GenerationMode.POSITIVE:
        return
    for name in case.path_parameters:
        value = world.real_path_value(name, case.operation.path)
        if value is not None:
            case.path_parameters[name] = value


@schema.parametrize()
@SETTINGS
def test_api_conforms(case, court_world):
    _point_coverage_at_real_records(case, court_world)
    case.call_and_validate(headers=court_world.headers(case.method, case.path), checks=CHECKS)


@schema.include(path_regex=r"^/api/v1/records").parametrize()
@hypothesis.settings(SETTINGS, max_examples=5)
def test_court_api_without_token(case, db):
    """No token: a documented 401 with `WWW-Authenticate: Token` (docs/api.md)."""
    response = case.call_and_validate(checks=CHECKS)
    assert response.status_code == 401, response.text
    assert response.headers.get("www-authenticate") == ["Token"]
