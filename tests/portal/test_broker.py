"""The broker transport: kombu's Redis transport reusing one client per channel."""

import os

import pytest
from kombu import Connection

from portal.broker import Channel, Transport

BROKER = os.environ.get("CELERY_BROKER_URL", "")

pytestmark = pytest.mark.skipif(
    not BROKER.startswith("redis://"), reason="needs CELERY_BROKER_URL on Redis"
)


def test_the_portal_publishes_through_its_transport():
    from portal.celery import app

    with app.connection_for_write() as connection:
        assert isinstance(connection.transport, Transport)


def test_messages_go_through_and_the_client_is_built_once(monkeypatch):
    built = []
    create = Channel._create_client

    def counting(self, asynchronous=False):
        client = create(self, asynchronous)
        if not asynchronous:
            built.append(client)
        return client

    monkeypatch.setattr(Channel, "_create_client", counting)
    with Connection(BROKER, transport=Transport) as connection:
        queue = connection.SimpleQueue("tests-portal-broker")
        try:
            queue.clear()
            for n in range(5):
                queue.put({"n": n})
            got = []
            for _ in range(5):
                message = queue.get(timeout=5)
                got.append(message.payload["n"])
                message.ack()
            assert got == [0, 1, 2, 3, 4]
            assert len({id(c) for c in built}) == 1
        finally:
            queue.clear()
            queue.close()


def test_a_released_connection_is_a_connection_error_the_worker_survives():
    """kombu closing a channel after the broker went away (a Redis restart) restores its
    unacknowledged messages through a connection already released: that must be a
    connection error, which kombu's closing ignores, never an AttributeError that stops
    the worker as "unrecoverable"."""
    from kombu.common import ignore_errors

    connection = Connection(BROKER, transport=Transport)
    channel = connection.default_channel
    channel._pool = None  # as kombu leaves them once the connection is released
    connection.transport.client = None
    with pytest.raises(Transport.connection_errors), channel.conn_or_acquire():
        pass
    with ignore_errors(connection):  # what kombu's closing does: nothing escapes it
        channel.qos.restore_unacked()
