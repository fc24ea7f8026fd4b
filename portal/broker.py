"""kombu's Redis transport, with one redis-py client per channel for its plain commands.

kombu's Redis channel builds a new `redis.Redis` object for every command it sends outside
its consumer connection (`Channel.conn_or_acquire`): a task's publish (LPUSH), the
exchange's bindings (SMEMBERS), acknowledgements. Building one costs about 70 µs of CPU
(redis-py fills a table of about 170 response callbacks each time), a third of what
publishing a task costs, paid on every verification job and certificate render queued.

This channel builds it once and reuses it. Nothing else changes: the same commands,
the same connection pool (a redis-py client takes a connection from the pool for each
command and is safe to share between threads), every message sent at once, none
batched or held back. Pipelines and transactions (`client.pipeline()`) are objects of
their own, as before. Used for `redis://` and `rediss://` broker URLs
(`CELERY_BROKER_TRANSPORT` in the settings).
"""

from __future__ import annotations

import contextlib
import threading

from kombu.transport import redis
from redis import exceptions as redis_errors


class Channel(redis.Channel):
    _shared_client = None
    _shared_client_lock = threading.Lock()

    @contextlib.contextmanager
    def conn_or_acquire(self, client=None):
        if client:
            yield client
            return
        # A new pool (after a fork, kombu drops its pools) gets a new client.
        try:
            pool = self.pool
        except AttributeError:
            # The connection is already released (kombu closing a channel after the broker
            # went away, restoring unacknowledged messages): say so as the connection error
            # it is, which kombu's closing ignores, so that the worker reconnects instead of
            # dying of an "unrecoverable" AttributeError. The sweeper re-queues the jobs.
            raise redis_errors.ConnectionError("the broker connection is closed") from None
        shared = self._shared_client
        if shared is None or shared.connection_pool is not pool:
            with self._shared_client_lock:
                shared = self._shared_client
                if shared is None or shared.connection_pool is not pool:
                    shared = self._shared_client = self._create_client()
        yield shared


class Transport(redis.Transport):
    Channel = Channel
