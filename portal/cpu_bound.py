"""CPU-heavy steps of a web request, run so that a gevent worker keeps serving the others.

In a gevent worker (docker/gunicorn.conf.py) every request of a process shares one OS
thread, and only waiting (sockets, PostgreSQL) lets the others run. Stamping a 15-page
PDF takes about a second of CPU: run in place, it would hold up every other request of
its process for that second, the court requests waiting for their batch included. Such a
step runs in a native thread of gevent's pool instead, and the worker's loop takes turns
with it at each switch of the GIL (every 5 ms). Outside gevent (runserver, Celery,
tests) the step simply runs. The step must be pure computation: no database, no Django
request state.
"""

from __future__ import annotations

import sys
from collections.abc import Callable


def run[T](step: Callable[..., T], /, *args, **kwargs) -> T:
    """step(*args, **kwargs), off the event loop when this process runs gevent."""
    monkey = sys.modules.get("gevent.monkey")
    if monkey is None or not monkey.is_module_patched("threading"):
        return step(*args, **kwargs)
    import gevent

    return gevent.get_hub().threadpool.apply(step, args, kwargs)
