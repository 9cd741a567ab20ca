"""The ``liteflow`` command line: find, inspect and repair workflows in a store.

``liteflow [--store URL] [--app M:A] [--json] COMMAND [ARGS]``; ``liteflow --help`` lists the
commands. Errors are one line on standard error; the exit code says what happened (see
`build_parser`'s epilog). Never imported by the core.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import TextIO

from liteflow.core.errors import (
    InvalidArgumentError,
    LiteFlowError,
    WorkflowNotFoundError,
    WorkflowNotRegisteredError,
    WorkflowStateError,
)
from liteflow.operate import Operator

from ._commands import COMMANDS as _COMMANDS
from ._commands import EXIT_REFUSED
from ._parser import build_parser as _build_parser

__all__ = ["EXIT_FAILED", "EXIT_NOT_FOUND", "EXIT_REFUSED", "EXIT_USAGE", "main"]

EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_NOT_FOUND = 3


def _fail(err: TextIO, message: str, code: int) -> int:
    err.write(f"liteflow: error: {message}\n")
    return code


def main(argv: Sequence[str] | None = None, out: TextIO | None = None, err: TextIO | None = None) -> int:
    """Run one command; return its exit code."""
    out = out or sys.stdout
    err = err or sys.stderr
    args = _build_parser().parse_args(argv)
    if args.store is None and args.app is None:
        return _fail(
            err, "name the store: --store URL (or LITEFLOW_STORE), or the application: --app M:A", EXIT_USAGE
        )
    if args.command == "definitions" and args.app is None:
        return _fail(err, "definitions come from the application: give it with --app M:A", EXIT_USAGE)
    try:
        if args.command == "dashboard":
            return _dashboard(args, out)
        with Operator.open(args.store, args.app) as operator:
            return _COMMANDS[args.command](operator, args, out)
    except WorkflowNotFoundError as exc:
        return _fail(err, str(exc), EXIT_NOT_FOUND)
    except WorkflowStateError as exc:
        return _fail(err, str(exc), EXIT_REFUSED)
    except WorkflowNotRegisteredError as exc:
        hint = "" if args.app else " (give the application with --app M:A)"
        return _fail(err, f"{exc}{hint}", EXIT_USAGE)
    except InvalidArgumentError as exc:
        return _fail(err, str(exc), EXIT_USAGE)
    except LiteFlowError as exc:
        return _fail(err, str(exc), EXIT_FAILED)
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # one clear line, not a traceback
        return _fail(err, f"{type(exc).__name__}: {exc}", EXIT_FAILED)


def _dashboard(args: argparse.Namespace, out: TextIO) -> int:
    try:
        from liteflow.dashboard._serve import serve
    except ImportError as exc:
        raise InvalidArgumentError(
            f"the dashboard needs its extra: pip install 'liteflow[dashboard]' ({exc})"
        ) from None
    code: int = serve(args, out)
    return code
