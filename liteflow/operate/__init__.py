"""What the ``liteflow`` command line and the dashboard share: opening a store by URL, loading
the application's host, reading payloads without the application's classes, and instances as
JSON-able views. Never imported by the core."""

from __future__ import annotations

from ._app import load_app
from ._documents import StoredDocument, StoredDocumentSerializer, shown
from ._operator import Operator, StuckReport
from ._stores import STORE_SCHEMES, open_store
from ._values import parse_duration, parse_json, parse_time
from ._views import (
    POINTER_STATUS_NAMES,
    STATUS_NAMES,
    instance_view,
    iso,
    parse_status,
    pointer_state,
    step_label,
    summary_view,
)

__all__ = [
    "POINTER_STATUS_NAMES",
    "STATUS_NAMES",
    "STORE_SCHEMES",
    "Operator",
    "StoredDocument",
    "StoredDocumentSerializer",
    "StuckReport",
    "instance_view",
    "iso",
    "load_app",
    "open_store",
    "parse_duration",
    "parse_json",
    "parse_status",
    "parse_time",
    "pointer_state",
    "shown",
    "step_label",
    "summary_view",
]
