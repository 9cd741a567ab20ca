"""OpenTelemetry traces and metrics for a LiteFlow host (the ``otel`` extra).

``instrument(host)`` uses the application's tracer and meter providers (the global ones by
default) and never installs its own: a span per step run, joined to the trace that was
active when the workflow was started, and counters and a histogram of workflows and steps.
"""

from __future__ import annotations

from liteflow.providers._extras import missing_extra

try:
    from ._instrument import instrument
except ModuleNotFoundError as error:
    if error.name is None or not error.name.startswith("opentelemetry"):
        raise
    raise missing_extra(__name__, "otel", error) from error

__all__ = ["instrument"]
