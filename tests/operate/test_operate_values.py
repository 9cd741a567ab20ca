"""What the command line and the dashboard share: stored documents, store URLs, typed values."""

from __future__ import annotations

import copy
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from liteflow.core import InvalidArgumentError, SqlitePersistenceProvider, WorkflowInstance
from liteflow.operate import (
    StoredDocument,
    StoredDocumentSerializer,
    open_store,
    parse_duration,
    parse_status,
    parse_time,
    shown,
)

TAGGED = {"$type": "dataclass", "class": "myapp.models:Order", "state": {"id": 7}}


def test_a_stored_document_is_kept_as_it_is_and_written_back_unchanged() -> None:
    serializer = StoredDocumentSerializer()
    loaded = serializer.from_document(TAGGED)
    assert loaded == StoredDocument(TAGGED)
    assert serializer.to_document(loaded) == TAGGED
    assert serializer.from_document(None) is None


def test_stored_documents_inside_plain_values_are_written_back_unchanged() -> None:
    news = {"status": 3, "data": StoredDocument(TAGGED), "items": [StoredDocument([1, 2])]}
    assert StoredDocumentSerializer().to_document(news) == {"status": 3, "data": TAGGED, "items": [[1, 2]]}


def test_other_values_are_stored_as_the_json_serializer_stores_them() -> None:
    moment = datetime(2026, 1, 2, tzinfo=timezone.utc)
    assert StoredDocumentSerializer().to_document((1, moment)) == {
        "$type": "tuple",
        "items": [1, {"$type": "datetime", "value": "2026-01-02T00:00:00+00:00"}],
    }


def test_a_copied_stored_document_is_a_new_equal_one() -> None:
    original = StoredDocument({"a": [1]})
    twin = copy.deepcopy(original)
    assert twin == original and twin.document is not original.document


def test_shown_gives_json_for_people() -> None:
    assert shown(StoredDocument(TAGGED)) == TAGGED
    assert shown({"n": 1}) == {"n": 1}
    assert shown(lambda: None) == {"$unstorable": "function"}


def test_sqlite_urls_name_a_relative_or_an_absolute_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    SqlitePersistenceProvider(tmp_path / "a.db").close()
    absolute = open_store(f"sqlite:///{tmp_path / 'a.db'}", StoredDocumentSerializer())
    assert isinstance(absolute, SqlitePersistenceProvider) and absolute.path == str(tmp_path / "a.db")
    monkeypatch.chdir(tmp_path)
    relative = open_store("sqlite:///a.db", StoredDocumentSerializer())
    assert isinstance(relative, SqlitePersistenceProvider) and relative.path == "a.db"
    absolute.close()
    relative.close()


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("redis://localhost", "unknown store URL 'redis://localhost': it starts with one of sqlite://"),
        ("workflows.db", "unknown store URL"),
        ("sqlite://", "a SQLite store URL is sqlite:///relative/path.db"),
        ("sqlite:///missing.db", "no SQLite store at 'missing.db'"),
        ("mongodb://localhost:27017/", "name the database in a MongoDB store URL"),
    ],
)
def test_a_store_url_that_names_no_store_says_why(url: str, message: str) -> None:
    with pytest.raises(InvalidArgumentError, match=message):
        open_store(url, StoredDocumentSerializer())


@pytest.mark.parametrize(
    ("text", "expected"),
    [("90s", timedelta(seconds=90)), ("2h", timedelta(hours=2)), ("1h30m", timedelta(minutes=90)),
     ("7d", timedelta(days=7)), ("1w", timedelta(weeks=1)), ("250ms", timedelta(milliseconds=250))],
)  # fmt: skip
def test_durations(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


def test_times_are_iso_8601_or_a_duration_ago() -> None:
    now = datetime(2026, 5, 1, 12, tzinfo=timezone.utc)
    assert parse_time("2h", now) == datetime(2026, 5, 1, 10, tzinfo=timezone.utc)
    assert parse_time("2026-04-30T08:00", now) == datetime(2026, 4, 30, 8, tzinfo=timezone.utc)
    with pytest.raises(InvalidArgumentError, match="neither an ISO 8601 time"):
        parse_time("yesterday", now)


def test_statuses_by_name_or_number() -> None:
    assert parse_status("Suspended") == WorkflowInstance.SUSPENDED
    assert parse_status("3") == WorkflowInstance.TERMINATED
    with pytest.raises(InvalidArgumentError, match="use one of runnable, suspended, complete, terminated"):
        parse_status("paused")
