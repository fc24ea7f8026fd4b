"""A rate-limit store that cannot be reached lets requests through, uncounted, never a 500.

The store is a real Redis client pointed at a port where nothing listens (tests/faults
stops a real Redis under load).
"""

import pytest
from rest_framework.test import APIClient

from plumbing import throttling
from tests.processes import free_port

pytestmark = pytest.mark.django_db


def test_verifications_answer_while_the_counters_are_unreachable(settings):
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{free_port()}/0",
        }
    }
    before = throttling.uncounted.labels("verifications")._value.get()
    answer = APIClient().post("/api/v1/verifications", {"sha256": "ab" * 32}, format="json")
    assert answer.status_code == 202, answer.content
    assert throttling.uncounted.labels("verifications")._value.get() == before + 1


def test_a_page_answers_while_the_counters_are_unreachable(settings, client):
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{free_port()}/0",
        }
    }
    answer = client.get("/lookup", {"code": "7K3M9Q-XD4RTW-2HVBPZ"})
    assert answer.status_code in (200, 302, 404), answer.content[:300]
