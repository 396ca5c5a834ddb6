"""A kombu transport on the project's own PostgreSQL: Celery without a broker server.

Selected by ``CELERY_BROKER_URL = "stickersim-pg://"`` (the default when REDIS_URL is unset);
the connection is Django's ``default`` database, and the queue is ``jobs.QueueMessage``.

Why this and not kombu's SQLAlchemy or filesystem transports: both hand a message over by
hiding or deleting it when it is *read*, so a worker killed mid-task (``acks_late``) loses its
job for good. Here a message stays in the table until it is acknowledged, and the worker that
took it holds a session-level advisory lock on it while the task runs. PostgreSQL drops the
lock when the worker's session ends, however it ends, so a restarted (or any other) worker
finds the message unlocked and runs it again. No visibility timeout to tune: a training run
may take hours and is never handed to a second worker while the first is alive.

Polling, not LISTEN/NOTIFY: a worker asks every ``polling_interval`` seconds (0.5 by default
here), one indexed query per queue; a job starts within half a second of its request.
"""

from __future__ import annotations

import json
from queue import Empty
from typing import Any

from kombu.transport import virtual

# First key of the two-key advisory locks: keeps our locks apart from any other user's.
LOCK_NAMESPACE = 0x5751  # "SQ"
# Messages looked at per poll; ones locked by a live worker are skipped.
POLL_WINDOW = 50
TABLE = "jobs_queuemessage"


def _connect():
    """A new autocommit psycopg connection to Django's default database (the test database
    under pytest: pytest-django renames it in ``settings_dict``)."""
    import psycopg
    from django.db import connections

    s = connections["default"].settings_dict
    params = {"dbname": s["NAME"], "user": s.get("USER") or None,
              "password": s.get("PASSWORD") or None, "host": s.get("HOST") or None,
              "port": s.get("PORT") or None, "application_name": "stickersim-broker"}
    return psycopg.connect(autocommit=True, **{k: v for k, v in params.items() if v})


class Channel(virtual.Channel):
    """One database session; the messages it took are locked in it until acknowledged."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._db = None
        self._held: dict[str, int] = {}  # delivery tag -> QueueMessage.id locked by us

    @property
    def db(self):
        if self._db is None or self._db.closed:
            self._db = _connect()
            self._held.clear()  # a new session holds no locks
        return self._db

    def _put(self, queue: str, message: dict, **kwargs: Any) -> None:
        tag = str(message.get("properties", {}).get("delivery_tag", ""))
        self.db.execute(
            f"INSERT INTO {TABLE} (queue, payload, delivery_tag, deliveries, created_at) "
            "VALUES (%s, %s, %s, 0, now())", (queue, json.dumps(message), tag))

    def _get(self, queue: str, timeout: float | None = None) -> dict:
        """The oldest message of ``queue`` that no live session holds; locks it for us."""
        db = self.db
        ids = [r[0] for r in db.execute(
            f"SELECT id FROM {TABLE} WHERE queue = %s ORDER BY id LIMIT %s",
            (queue, POLL_WINDOW)).fetchall()]
        held = set(self._held.values())
        for msg_id in ids:
            if msg_id in held:  # advisory locks are re-entrant: our own would succeed again
                continue
            if not db.execute("SELECT pg_try_advisory_lock(%s, %s)",
                              (LOCK_NAMESPACE, _key(msg_id))).fetchone()[0]:
                continue  # a live worker is running it
            row = db.execute(
                f"UPDATE {TABLE} SET deliveries = deliveries + 1, delivered_at = now() "
                "WHERE id = %s RETURNING payload, deliveries", (msg_id,)).fetchone()
            if row is None:  # acknowledged between our SELECT and our lock
                self._unlock(msg_id)
                continue
            message = json.loads(row[0])
            if row[1] > 1:
                message["redelivered"] = True
            self._held[str(message["properties"]["delivery_tag"])] = msg_id
            return message
        raise Empty()

    def basic_ack(self, delivery_tag: Any, multiple: bool = False) -> None:
        """Done (or failed for good): the message leaves the table, then our lock goes."""
        super().basic_ack(delivery_tag, multiple=multiple)
        msg_id = self._held.pop(str(delivery_tag), None)
        if msg_id is not None:
            self.db.execute(f"DELETE FROM {TABLE} WHERE id = %s", (msg_id,))
            self._unlock(msg_id)

    def _restore(self, message: Any) -> None:
        """Rejected with requeue, or unstarted at a clean shutdown: the row is still there,
        so releasing our lock puts it back in line (kombu's default would insert a copy)."""
        msg_id = self._held.pop(str(message.delivery_tag), None)
        if msg_id is not None:
            self._unlock(msg_id)

    def _unlock(self, msg_id: int) -> None:
        self.db.execute("SELECT pg_advisory_unlock(%s, %s)", (LOCK_NAMESPACE, _key(msg_id)))

    def _size(self, queue: str) -> int:
        return self.db.execute(f"SELECT count(*) FROM {TABLE} WHERE queue = %s",
                               (queue,)).fetchone()[0]

    def _purge(self, queue: str) -> int:
        return self.db.execute(f"DELETE FROM {TABLE} WHERE queue = %s", (queue,)).rowcount

    def _delete(self, queue: str, *args: Any, **kwargs: Any) -> None:
        self._purge(queue)

    def _new_queue(self, queue: str, **kwargs: Any) -> None:
        """Queues are rows' ``queue`` values: nothing to create."""

    def _has_queue(self, queue: str, **kwargs: Any) -> bool:
        return True

    def close(self) -> None:
        super().close()  # restores unacked messages through _restore, using the session
        if self._db is not None and not self._db.closed:
            self._db.close()  # ends the session: any lock left is released with it
        self._db = None


def _key(msg_id: int) -> int:
    """The advisory lock's second key (int4)."""
    return msg_id % 2_147_483_647


class Transport(virtual.Transport):
    """``stickersim-pg://``: the jobs queue in the project's PostgreSQL."""

    Channel = Channel
    polling_interval = 0.5  # seconds between polls of an empty queue
    driver_type = "sql"
    driver_name = "psycopg"

    @property
    def default_connection_params(self) -> dict:
        return {}  # the database is Django's: no host, port or credentials in the URL

    def driver_version(self) -> str:
        import psycopg

        return psycopg.__version__
