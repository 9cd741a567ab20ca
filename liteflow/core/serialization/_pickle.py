"""Pickle, as an explicit opt-in for stores whose every writer is trusted."""

from __future__ import annotations

import base64
import binascii
import pickle
from typing import Any

from ..errors import SerializationError
from ._base import Serializer
from ._limits import DEFAULT_MAX_SIZE, Limits

__all__ = ["PickleSerializer"]

_KEY = "$pickle"


class PickleSerializer(Serializer):
    """Stores any picklable value as ``{"$pickle": base64}``, up to `max_size` characters.

    Warning: loading a pickle runs code chosen by whoever wrote the document. Use this only
    when every writer of the store is trusted as much as your own process.
    """

    def __init__(self, protocol: int = pickle.DEFAULT_PROTOCOL, *, max_size: int = DEFAULT_MAX_SIZE) -> None:
        self._protocol = protocol
        self._max_size = Limits(max_size=max_size).max_size

    def to_document(self, value: Any, path: str = "value") -> Any:
        try:
            raw = pickle.dumps(value, protocol=self._protocol)
        except Exception as exc:  # PicklingError, TypeError, AttributeError, ...
            raise SerializationError(
                f"cannot store value of type '{type(value).__name__}' at {path}: {exc}"
            ) from exc
        text = base64.b64encode(raw).decode("ascii")
        if len(text) > self._max_size:
            raise SerializationError(
                f"cannot store value at {path}: its pickle is larger than {self._max_size} characters "
                "(PickleSerializer(max_size=...) changes it)"
            )
        return {_KEY: text}

    def from_document(self, document: Any) -> Any:
        if type(document) is not dict or len(document) != 1 or type(document.get(_KEY)) is not str:
            raise SerializationError(
                "this payload was not written by PickleSerializer (it is not "
                '{"$pickle": <base64 text>}); read this store with the serializer that wrote it'
            )
        text = document[_KEY]
        if len(text) > self._max_size:
            raise SerializationError(f"stored pickle is larger than {self._max_size} characters")
        try:
            raw = base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise SerializationError(f"malformed document: bad base64 in '$pickle' ({exc})") from exc
        try:
            return pickle.loads(raw)
        except Exception as exc:  # missing classes, truncated data, ...
            raise SerializationError(f"stored pickle cannot be loaded: {exc}") from exc
