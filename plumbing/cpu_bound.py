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
from concurrent.futures import ThreadPoolExecutor

# Native threads for start() outside gevent, as many as gevent's own pool has (10).
_threads = ThreadPoolExecutor(max_workers=10, thread_name_prefix="cpu-bound")


def _gevent_hub():
    monkey = sys.modules.get("gevent.monkey")
    if monkey is None or not monkey.is_module_patched("threading"):
        return None
    import gevent

    return gevent.get_hub()


def run[T](step: Callable[..., T], /, *args, **kwargs) -> T:
    """step(*args, **kwargs), off the event loop when this process runs gevent."""
    hub = _gevent_hub()
    if hub is None:
        return step(*args, **kwargs)
    return hub.threadpool.apply(step, args, kwargs)


def start(step: Callable[..., object], /, *args):
    """Start step(*args) in a native thread and return at once; `.result()` waits for it.

    For work that releases the GIL (hashlib on large buffers) to run beside the caller's,
    in a gevent worker too, where a `threading.Thread` would be a greenlet taking turns.
    """
    hub = _gevent_hub()
    if hub is None:
        return _threads.submit(step, *args)
    return hub.threadpool.spawn(step, *args)
