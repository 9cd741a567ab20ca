"""The store's hottest writes sent straight through libpq, prepared once per connection.

Every pass writes its instance with one statement, and every start inserts one. psycopg's
cursor layer (a cursor, a transformer and a prepared-statement cache per call) costs more
CPU than such a statement's round trip, and a host's workers and its callers share that CPU
(and the interpreter lock) while the driver of a start waits for it. Here a statement is
prepared on each connection the first time it meets it, and its parameters, of the few
types the store sends (text, integers, booleans, aware times, ``jsonb`` documents), become
text directly. A value psycopg would refuse (text holding NUL) takes psycopg's way, so
errors stay the same.
"""

from __future__ import annotations

import json
import weakref
from collections.abc import Sequence
from datetime import datetime
from itertools import count
from typing import Any, cast

import psycopg
from psycopg import errors, pq
from psycopg.types.json import Jsonb

from ._database import Connection

__all__ = ["Prepared"]

_names = count(1)
_DONE = (pq.ExecStatus.COMMAND_OK, pq.ExecStatus.TUPLES_OK)


def _text(value: Any) -> bytes | None:
    """A parameter as PostgreSQL's text input; raises TypeError for what this cannot send."""
    kind = type(value)
    if value is None:
        return None
    if kind is str:
        if "\x00" in value:
            raise TypeError("NUL in text")
        return cast(str, value).encode()
    if kind is Jsonb:
        text = json.dumps(value.obj) if value.dumps is None else value.dumps(value.obj)
        return text.encode() if isinstance(text, str) else bytes(text)
    if kind is bool:
        return b"t" if value else b"f"
    if kind is int:
        return str(value).encode()
    if kind is datetime and value.tzinfo is not None:
        return cast(datetime, value).isoformat().encode()
    raise TypeError(kind.__name__)


class Prepared:
    """One statement (psycopg's ``%s`` placeholders), run as a prepared statement."""

    def __init__(self, sql: str) -> None:
        self.sql = sql
        self._name = f"liteflow_{next(_names)}".encode()
        self._server_sql = _numbered(sql).encode()
        self._prepared_on: weakref.WeakKeyDictionary[Connection, bool] = weakref.WeakKeyDictionary()

    def execute(self, connection: Connection, parameters: Sequence[Any]) -> int:
        """Run it on `connection` (autocommit, not in a transaction); the rows it changed."""
        try:
            values = [_text(value) for value in parameters]
        except TypeError:
            return connection.execute(self.sql, parameters).rowcount
        pgconn = connection.pgconn
        if connection not in self._prepared_on:
            self._check(connection, pgconn.prepare(self._name, self._server_sql))
            self._prepared_on[connection] = True
        # libpq takes None for NULL, which psycopg's stub does not spell out.
        result = pgconn.exec_prepared(self._name, cast("list[bytes]", values))
        self._check(connection, result)
        return result.command_tuples or 0

    def _check(self, connection: Connection, result: pq.abc.PGresult) -> None:
        if result.status in _DONE:
            return
        if connection.pgconn.status == pq.ConnStatus.BAD:
            self._prepared_on.pop(connection, None)
            message = (connection.pgconn.error_message or b"connection lost").decode(errors="replace")
            raise psycopg.OperationalError(message.strip() or "connection lost")
        raise errors.error_from_result(result, encoding=connection.info.encoding)


def _numbered(sql: str) -> str:
    """``%s`` placeholders as ``$1, $2, ...`` (the store's statements hold no other ``%``)."""
    parts = sql.split("%s")
    if any("%" in part for part in parts):
        raise ValueError(f"a prepared statement takes only %s placeholders: {sql!r}")
    return "".join(f"{part}${index}" if index < len(parts) else part for index, part in enumerate(parts, 1))
