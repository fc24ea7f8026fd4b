"""Fixtures shared by the whole suite. Database tests run on real PostgreSQL only."""

import pytest
from django.db import connection


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """The suite's promises hold on PostgreSQL; refuse to run database tests elsewhere."""
    with django_db_blocker.unblock():
        if connection.vendor != "postgresql":
            pytest.exit("The suite needs PostgreSQL: run it with `make test`.", returncode=2)


@pytest.fixture(autouse=True)
def _fresh_tile_cache():
    """Each test builds its own log in a fresh database; cached tiles of the last one lie."""
    from anchoring import store

    store.forget_tiles()
    yield
    store.forget_tiles()
