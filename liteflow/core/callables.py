"""Adapt user callables to the arguments the engine offers.

Users write ``lambda data, context: ...`` or just ``lambda data: ...``; the engine calls every
such function with the same arguments and lets this module drop the ones it does not take.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

__all__ = ["positional_arity", "bind_arity", "describe", "is_async_callable"]


def positional_arity(fn: Callable[..., Any], offered: int) -> int:
    """How many of `offered` positional arguments `fn` accepts."""
    try:
        signature = inspect.signature(fn)
    except (TypeError, ValueError):
        return offered
    count = 0
    for parameter in signature.parameters.values():
        if parameter.kind is inspect.Parameter.VAR_POSITIONAL:
            return offered
        if parameter.kind in (
            inspect.Parameter.POSITIONAL_ONLY,
            inspect.Parameter.POSITIONAL_OR_KEYWORD,
        ):
            count += 1
    return min(count, offered)


def bind_arity(fn: Callable[..., Any], offered: int) -> Callable[..., Any]:
    """Return a function taking `offered` positional arguments that calls `fn` with the first few."""
    arity = positional_arity(fn, offered)
    if arity == offered:
        return fn
    if arity == 0:
        return lambda *_args: fn()
    if arity == 1:
        return lambda first, *_rest: fn(first)
    return lambda *args: fn(*args[:arity])


def is_async_callable(fn: object) -> bool:
    """Whether calling `fn` makes a coroutine: an `async def` function or method (or a partial
    of one), or an object whose `__call__` is one."""
    if inspect.iscoroutinefunction(fn):
        return True
    return callable(fn) and inspect.iscoroutinefunction(type(fn).__call__)


def describe(body: object) -> str:
    """A short human name for a step body or callable, used in errors and logs."""
    name = getattr(body, "__qualname__", None) or getattr(body, "__name__", None)
    if name:
        return str(name)
    return type(body).__name__
