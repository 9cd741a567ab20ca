"""The store's hottest writes sent straight through libpq, prepared once per connection.

Every pass writes its instance with one statement, and every start inserts one. psycopg's
cursor layer (a cursor, a transformer and a prepared-statement cache per call) costs more
CPU than such a statement's round trip, and a host's workers and its callers share that CPU
(and the interpreter lock) while the driver of a start waits for it. Here a statement is
prepared on each connection the first time it meets it, and its parameters, of the few
types the store sends (text, numbers, booleans, aware times, ``jsonb`` documents), become
text directly. A value psycopg would refuse (text holding NUL), or a client encoding other
than UTF-8, takes psycopg's way, so errors and values stay the same.
"""

from __future__ import annotations

import json
import weakref
from collections.abc import Callable, Sequence
from datetime import datetime
from itertools import count
from typing import Any, cast

import psycopg
from psycopg import errors, pq
from psycopg.types.json import Jsonb

from ._database import Connection

__all__ = ["LOADERS", "Columns", "Prepared"]

#: A query's columns, as the loaders of their text output.
Columns = tuple[Callable[[bytes], Any], ...]


def _timestamptz(raw: bytes) -> datetime:
    """``timestamptz`` text in the session's zone (UTC), e.g. ``2026-12-03 17:00:00.5+00``."""
    return datetime.fromisoformat(raw.decode())


def _boolean(raw: bytes) -> bool:
    return raw == b"t"


#: How each column type the store reads comes back: what psycopg's loaders return.
LOADERS: dict[str, Callable[[bytes], Any]] = {
    "text": bytes.decode,
    "integer": int,
    "bigint": int,
    "boolean": _boolean,
    "timestamptz": _timestamptz,
    "jsonb": json.loads,
}

_names = count(1)
_DONE = (pq.ExecStatus.COMMAND_OK, pq.ExecStatus.TUPLES_OK)


def _text(value: str) -> bytes:
    if "\x00" in value:
        raise TypeError("NUL in text")  # psycopg's error, not libpq's silent cut
    return value.encode()


def _jsonb(value: Jsonb) -> bytes:
    text = json.dumps(value.obj) if value.dumps is None else value.dumps(value.obj)
    return text.encode() if isinstance(text, str) else bytes(text)


def _boolean_text(value: bool) -> bytes:
    return b"t" if value else b"f"


def _number(value: float) -> bytes:
    return repr(value).encode()


def _time(value: datetime) -> bytes:
    if value.tzinfo is None:
        raise TypeError("naive time")
    return value.isoformat().encode()


#: Each parameter type sent here, to PostgreSQL's text input (exact types: a subclass goes
#: through psycopg).
_TO_TEXT: dict[type, Callable[[Any], bytes]] = {
    str: _text,
    Jsonb: _jsonb,
    bool: _boolean_text,
    int: _number,
    float: _number,
    datetime: _time,
}


def _values(connection: Connection, parameters: Sequence[Any]) -> list[bytes | None] | None:
    """The parameters as UTF-8 text, or None when psycopg should send them (another client
    encoding, or a value this module does not convert)."""
    if connection.pgconn.parameter_status(b"client_encoding") != b"UTF8":
        return None
    try:
        return [None if value is None else _TO_TEXT[type(value)](value) for value in parameters]
    except (KeyError, TypeError):
        return None


class Prepared:
    """One statement (psycopg's ``%s`` placeholders), run as a prepared statement."""

    def __init__(self, sql: str) -> None:
        self.sql = sql
        self._name = f"liteflow_{next(_names)}".encode()
        self._server_sql = _numbered(sql).encode()
        self._prepared_on: weakref.WeakKeyDictionary[Connection, bool] = weakref.WeakKeyDictionary()

    def execute(self, connection: Connection, parameters: Sequence[Any]) -> int:
        """Run it on `connection` (autocommit, not in a transaction); the rows it changed."""
        values = _values(connection, parameters)
        if values is None:
            return connection.execute(self.sql, parameters).rowcount
        return self._run(connection, values).command_tuples or 0

    def fetch(
        self, connection: Connection, parameters: Sequence[Any], columns: Columns
    ) -> list[tuple[Any, ...]]:
        """The rows of a query, each column read by its loader in `columns` (see `LOADERS`)."""
        values = _values(connection, parameters)
        if values is None:
            return connection.execute(self.sql, parameters).fetchall()
        result = self._run(connection, values)
        if result.nfields != len(columns):
            raise psycopg.ProgrammingError(
                f"{self.sql!r} returned {result.nfields} columns, not {len(columns)}"
            )
        get = result.get_value
        return [
            tuple(
                None if (raw := get(row, column)) is None else load(raw)
                for column, load in enumerate(columns)
            )
            for row in range(result.ntuples)
        ]

    def _run(self, connection: Connection, values: list[bytes | None]) -> pq.abc.PGresult:
        pgconn = connection.pgconn
        if connection not in self._prepared_on:
            self._check(connection, pgconn.prepare(self._name, self._server_sql))
            self._prepared_on[connection] = True
        # libpq takes None for NULL, which psycopg's stub does not spell out.
        result = pgconn.exec_prepared(self._name, cast("list[bytes]", values))
        self._check(connection, result)
        return result

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
