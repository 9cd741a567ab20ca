"""Opening a store by URL: ``sqlite:///path.db``, ``mongodb://host:port/database``,
``postgresql://user@host:port/database[?schema=liteflow]``.

One entry per scheme in `_OPENERS`; a provider package adds its own there.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit, urlunsplit

from liteflow.core.errors import InvalidArgumentError
from liteflow.core.providers import PersistenceProvider
from liteflow.core.serialization import Serializer
from liteflow.core.sqlite import SqlitePersistenceProvider

__all__ = ["STORE_SCHEMES", "open_store"]


def _sqlite(url: str, serializer: Serializer) -> PersistenceProvider:
    """``sqlite:///relative/path.db`` or ``sqlite:////absolute/path.db`` (SQLAlchemy's form)."""
    rest = url.partition("://")[2]
    if not rest.startswith("/") or len(rest) < 2:
        raise InvalidArgumentError(
            f"a SQLite store URL is sqlite:///relative/path.db or sqlite:////absolute/path.db, got {url!r}"
        )
    path = unquote(rest[1:])
    if not os.path.isfile(path):
        raise InvalidArgumentError(f"no SQLite store at {path!r} (from {url!r})")
    return SqlitePersistenceProvider(path, serializer=serializer)


def _mongo(url: str, serializer: Serializer) -> PersistenceProvider:
    """``mongodb://[user:password@]host[:port]/database[?options]``."""
    database = unquote(urlsplit(url).path.lstrip("/"))
    if not database:
        raise InvalidArgumentError(
            f"name the database in a MongoDB store URL: mongodb://host:port/NAME, got {url!r}"
        )
    try:
        from liteflow_mongo import MongoPersistenceProvider
    except ImportError as exc:
        raise InvalidArgumentError(
            f"a MongoDB store needs pymongo: pip install 'liteflow[mongo]' ({exc})"
        ) from None
    return MongoPersistenceProvider(url, database, serializer=serializer)


def _postgres(url: str, serializer: Serializer) -> PersistenceProvider:
    """``postgresql://user@host:port/database``; ``?schema=NAME`` names the provider's schema
    (default ``liteflow``), the rest goes to the server as it is."""
    parts = urlsplit(url)
    options = parse_qsl(parts.query, keep_blank_values=True)
    schema = next((value for name, value in options if name == "schema"), "liteflow")
    rest = urlencode([(name, value) for name, value in options if name != "schema"])
    try:
        from liteflow_postgres import PostgresPersistenceProvider
    except ImportError as exc:
        raise InvalidArgumentError(
            f"a PostgreSQL store needs psycopg: pip install 'liteflow[postgres]' ({exc})"
        ) from None
    dsn = urlunsplit((parts.scheme, parts.netloc, parts.path, rest, parts.fragment))
    return PostgresPersistenceProvider(dsn, schema, serializer=serializer)


_OPENERS: dict[str, Callable[[str, Serializer], PersistenceProvider]] = {
    "sqlite": _sqlite,
    "mongodb": _mongo,
    "mongodb+srv": _mongo,
    "postgresql": _postgres,
    "postgres": _postgres,
}
#: The URL schemes `open_store` knows.
STORE_SCHEMES = tuple(_OPENERS)


def open_store(url: str, serializer: Serializer) -> PersistenceProvider:
    """The store a URL names; `InvalidArgumentError` naming what is wrong with it."""
    scheme, separator, _ = url.partition("://")
    opener = _OPENERS.get(scheme.lower()) if separator else None
    if opener is None:
        raise InvalidArgumentError(
            f"unknown store URL {url!r}: it starts with one of {', '.join(f'{s}://' for s in STORE_SCHEMES)}"
        )
    return opener(url, serializer)
