"""Logs, metrics and traces: one structured line per decision, with its metrics embedded.

Each decision produces exactly one JSON log line. The EMF blob that Powertools Metrics serializes
is merged into that line instead of being printed as a second one: CloudWatch extracts metrics
from any JSON log line that carries ``_aws``, and one line per request is cheaper to write and
easier to read at 3 a.m. The raw token and its signature are never passed to any of this; event
logging is pinned off in code, whatever ``POWERTOOLS_LOGGER_LOG_EVENT`` says.
"""

from __future__ import annotations

import os
from collections import Counter
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from .config import Settings
from .constants import TRACE_DISABLED_ENV
from .jwks import KeyProvider
from .keys import KeySet

# Key-cache events worth a metric, by the name the cache emits them under.
_KEY_METRICS = {
    "fetch": "KeyFetches",
    "fetch_failed": "KeyFetchFailures",
    "stale_served": "StaleKeysServed",
    "penalty_opened": "UnknownKidPenalties",
}


class Observability:
    """The function's logger and metrics, plus the counters the key cache reports into."""

    def __init__(self, settings: Settings) -> None:
        self.logger = Logger(service=settings.service_name)
        self.metrics = Metrics(namespace=settings.metrics_namespace, service=settings.service_name)
        self._key_events: Counter[str] = Counter()
        self._cold_start = True

    def key_event(self, name: str) -> None:
        """Listener for ``KeyCache``: counted now, published with the next decision."""
        self._key_events[name] += 1

    def decision(self, outcome: str, reason: str, fields: dict[str, Any], *, level: str = "info") -> None:
        """Write the one line for this decision, metrics included; never changes the decision."""
        try:
            self._decision(outcome, reason, fields, level)
        except Exception as exc:
            print(f'{{"level":"ERROR","message":"decision log failed","error":"{type(exc).__name__}"}}')

    def _decision(self, outcome: str, reason: str, fields: dict[str, Any], level: str) -> None:
        metrics = self.metrics
        metrics.add_dimension(name="outcome", value=outcome)
        metrics.add_dimension(name="reason", value=reason)
        metrics.add_metric(name="Decisions", unit=MetricUnit.Count, value=1)
        if self._cold_start:
            metrics.add_metric(name="ColdStart", unit=MetricUnit.Count, value=1)
        if self._key_events:
            for event, count in self._key_events.items():
                name = _KEY_METRICS.get(event)
                if name is not None:
                    metrics.add_metric(name=name, unit=MetricUnit.Count, value=count)
            self._key_events.clear()
        blob = metrics.serialize_metric_set()
        metrics.clear_metrics()
        fields["cold_start"] = self._cold_start
        self._cold_start = False
        fields.update(blob)
        log = self.logger.warning if level == "warning" else self.logger.error if level == "error" else self.logger.info
        log(f"{outcome}: {reason}", extra=fields)


def tracing_enabled() -> bool:
    """Tracing needs Lambda, tracing not disabled, and aws-xray-sdk installed (an optional extra)."""
    if os.environ.get(TRACE_DISABLED_ENV, "").lower() in {"1", "true"}:
        return False
    if "AWS_LAMBDA_FUNCTION_NAME" not in os.environ:
        return False
    try:
        import aws_xray_sdk  # noqa: F401, PLC0415 - optional dependency, probed lazily
    except ImportError:
        return False
    return True


class TracedKeyProvider:
    """Wraps a key provider so each fetch is its own X-Ray subsegment."""

    def __init__(self, provider: KeyProvider, service: str) -> None:
        from aws_lambda_powertools import Tracer  # noqa: PLC0415 - imported only when tracing

        self._provider = provider
        self._tracer = Tracer(service=service)

    def load(self) -> KeySet:
        with self._tracer.provider.in_subsegment("## jwks_fetch") as subsegment:
            subsegment.put_annotation("key_source", self._provider.describe())
            return self._provider.load()

    def describe(self) -> str:
        return self._provider.describe()
