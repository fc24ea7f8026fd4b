"""Plumbing every app of the portal shares, and nothing that belongs to one of them.

- ``errors``: the API's one error shape (a stable code, zh/en messages) and DRF's
  exception handler that answers in it;
- ``error_codes``: every error code with its zh and en text;
- ``batches``: the one check of a batch request's list of items and its limit;
- ``bulk``: the hand-written SQL fast paths (many rows in one statement on PostgreSQL);
- ``cpu_bound``: CPU-heavy steps of a request run off a gevent worker's event loop;
- ``forwarded_for`` (no Django) and ``clients``: who sent a request, as the trusted
  proxies in front report it;
- ``throttling``: per-client rate limits counted in one Redis round trip, and
  ``page_limits``: the same limits on pages, with the page that asks to wait;
- ``tasks``: whether Celery tasks run in a worker or in the calling process;
- ``parsers``: the API's JSON parser, bounded in a body's size and nesting.

It imports no app of this project (an import-linter contract in pyproject.toml keeps it
so), which is why `anchoring`, `documents` and `verification` may all import it while
the data between them still flows one way.
"""
