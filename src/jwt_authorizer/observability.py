"""Logs, metrics and traces: one structured line per decision, with its metrics embedded.

Each decision produces exactly one JSON line on the Powertools Logger's stream, in the same shape
as Powertools' own lines (level, message, timestamp, service, cold_start, function_*,
xray_trace_id) plus the decision's fields. The EMF blob of the decision's metrics, serialized by
Powertools Metrics, rides in the same line: CloudWatch extracts metrics from any JSON log line
carrying ``_aws``. The line is written directly rather than through ``logger.info`` because the
logging machinery costs about twice an RSA verification per call (measured by ``make bench``); the
EMF blob of a given (outcome, reason) is serialized once and only its timestamp changes.

The raw token and its signature are never handed to anything here. Event logging is never done,
whatever ``POWERTOOLS_LOGGER_LOG_EVENT`` says: the handler is not wrapped by
``inject_lambda_context`` and never logs the event.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from collections import Counter
from typing import TYPE_CHECKING, Any

from .config import Settings
from .constants import TRACE_DISABLED_ENV
from .jwks import KeyProvider
from .keys import KeySet
from .logline import dumps as _dumps

if TYPE_CHECKING:
    from aws_lambda_powertools.logging.logger import Logger
    from aws_lambda_powertools.metrics import Metrics

# Key-cache events worth a metric, by the name the cache emits them under.
_KEY_METRICS = {
    "fetch": "KeyFetches",
    "fetch_failed": "KeyFetchFailures",
    "stale_served": "StaleKeysServed",
    "penalty_opened": "UnknownKidPenalties",
    "key_skipped": "KeysSkipped",
}
_LEVELS = {"info": logging.INFO, "warning": logging.WARNING, "error": logging.ERROR}


class Observability:
    """The function's logger and metrics, plus the counters the key cache reports into."""

    def __init__(self, settings: Settings) -> None:
        self.service = settings.service_name
        self.namespace = settings.metrics_namespace
        # Bound at cold start, as Powertools' Logger binds its handler to stdout.
        self._stream = sys.stdout
        self._level = log_level()
        self._logger: Logger | None = None
        self._metrics: Metrics | None = None
        self._key_events: Counter[str] = Counter()
        self._cold_start = True
        self._emf_templates: dict[tuple[str, str], tuple[str, str]] = {}
        self._prefixes: dict[str, str] = {}
        self._heads: dict[tuple[str, str, str], str] = {}
        self._second = -1
        self._second_text = ""

    @property
    def logger(self) -> Logger:
        """Powertools' Logger, for what is not a decision (unexpected errors); created on first use."""
        if self._logger is None:
            from aws_lambda_powertools.logging.logger import Logger  # noqa: PLC0415 - not on the cold path

            self._logger = Logger(service=self.service, stream=self._stream)
        return self._logger

    @property
    def metrics(self) -> Metrics:
        """Powertools' Metrics, used to serialize each (outcome, reason) EMF blob once."""
        if self._metrics is None:
            from aws_lambda_powertools.metrics import Metrics  # noqa: PLC0415

            self._metrics = Metrics(namespace=self.namespace, service=self.service)
        return self._metrics

    # ----- inputs -----------------------------------------------------------------------------

    def key_event(self, name: str, **fields: Any) -> None:
        """Listener for ``KeyCache``: counted now, published with the next decision.

        A skipped key is also logged at once, one warning line each (``kid``, ``reason``, ``source``).
        """
        self._key_events[name] += 1
        if name == "key_skipped":
            self.logger.warning("key skipped", extra=fields)

    # ----- the decision line ------------------------------------------------------------------

    def decision(
        self,
        outcome: str,
        reason: str,
        fields: dict[str, Any],
        context: Any,
        *,
        level: str = "info",
        encoded: str = "",
    ) -> None:
        """Write the one line for this decision, metrics included; never changes the decision.

        ``encoded`` holds more members already encoded as JSON (a remembered token's fields).
        """
        try:
            self._write(outcome, reason, fields, context, level=level, encoded=encoded)
        except Exception as exc:  # a logging fault must not turn a 401 into a 500
            self.logger.error("decision log failed", extra={"error_type": type(exc).__name__})

    def _write(
        self, outcome: str, reason: str, fields: dict[str, Any], context: Any, *, level: str, encoded: str
    ) -> None:
        now = time.time()
        stream = self._stream
        emf = self._emf(outcome, reason, int(now * 1000))
        if self._level > _LEVELS[level]:
            # The level hides the line; its metrics still count (with the service dimension's value).
            stream.write(f'{{"service":{_dumps(self.service)},{emf}}}\n')
            self._cold_start = False
            return
        head = self._heads.get((level, outcome, reason))
        if head is None:
            head = f'{self._prefix(level, context)}"message":{_dumps(f"{outcome}: {reason}")},"timestamp":'
            self._heads[(level, outcome, reason)] = head
        cold_start = "true" if self._cold_start else "false"
        self._cold_start = False
        parts = [
            f'{head}"{self._timestamp(now)}","cold_start":{cold_start},'
            f'"function_request_id":{_dumps(getattr(context, "aws_request_id", None))}'
        ]
        trace = os.environ.get("_X_AMZN_TRACE_ID")
        if trace:
            parts.append(f',"xray_trace_id":{_dumps(trace.split(";", 1)[0].removeprefix("Root="))}')
        if fields:
            parts.append(f",{_dumps(fields)[1:-1]}")
        if encoded:
            parts.append(f",{encoded}")
        # Static head, this call's members, then the EMF fragment: one line, one write.
        parts.append(f",{emf}}}\n")
        stream.write("".join(parts))

    def _prefix(self, level: str, context: Any) -> str:
        prefix = self._prefixes.get(level)
        if prefix is None:
            static = {
                "level": level.upper(),
                "location": "decision",
                "service": self.service,
                "function_name": getattr(context, "function_name", None),
                "function_memory_size": getattr(context, "memory_limit_in_mb", None),
                "function_arn": getattr(context, "invoked_function_arn", None),
            }
            prefix = _dumps(static)[:-1] + ","
            self._prefixes[level] = prefix
        return prefix

    def _emf(self, outcome: str, reason: str, timestamp_ms: int) -> str:
        """The EMF members of the line as JSON text (no braces): cached unless extra metrics ride along."""
        if not self._cold_start and not self._key_events:
            template = self._emf_templates.get((outcome, reason))
            if template is None:
                blob = self._serialize(outcome, reason, {})
                blob["_aws"]["Timestamp"] = 0
                head, tail = _dumps(blob)[1:-1].split('"Timestamp":0', 1)
                template = (head + '"Timestamp":', tail)
                self._emf_templates[(outcome, reason)] = template
            return f"{template[0]}{timestamp_ms}{template[1]}"
        extra: dict[str, float] = {}
        if self._cold_start:
            extra["ColdStart"] = 1
        for event, count in self._key_events.items():
            name = _KEY_METRICS.get(event)
            if name is not None:
                extra[name] = count
        self._key_events.clear()
        blob = self._serialize(outcome, reason, extra)
        blob["_aws"]["Timestamp"] = timestamp_ms
        return _dumps(blob)[1:-1]

    def _serialize(self, outcome: str, reason: str, extra: dict[str, float]) -> dict[str, Any]:
        from aws_lambda_powertools.metrics import MetricUnit  # noqa: PLC0415 - with Metrics, on first use

        metrics = self.metrics
        metrics.add_dimension(name="outcome", value=outcome)
        metrics.add_dimension(name="reason", value=reason)
        metrics.add_metric(name="Decisions", unit=MetricUnit.Count, value=1)
        for name, value in extra.items():
            metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)
        try:
            blob = dict(metrics.serialize_metric_set())
        finally:
            metrics.clear_metrics()
        blob.pop("service", None)  # the line's head already carries it: one member per name
        return blob

    def _timestamp(self, now: float) -> str:
        second = int(now)
        if second != self._second:
            self._second = second
            self._second_text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
        return f"{self._second_text}.{int((now - second) * 1000):03d}Z"


# Lambda's Advanced Logging Controls levels, which take precedence as they do for Powertools' Logger.
_LAMBDA_LEVELS = {
    "TRACE": logging.DEBUG,
    "DEBUG": logging.DEBUG,
    "INFO": logging.INFO,
    "WARN": logging.WARNING,
    "ERROR": logging.ERROR,
    "FATAL": logging.CRITICAL,
}


def log_level() -> int:
    """The level Powertools' Logger would use: AWS_LAMBDA_LOG_LEVEL, POWERTOOLS_LOG_LEVEL, LOG_LEVEL, INFO."""
    lambda_level = _LAMBDA_LEVELS.get(os.environ.get("AWS_LAMBDA_LOG_LEVEL", "").upper())
    if lambda_level is not None:
        return lambda_level
    name = (os.environ.get("POWERTOOLS_LOG_LEVEL") or os.environ.get("LOG_LEVEL") or "INFO").upper()
    level = logging.getLevelName(name)
    return level if isinstance(level, int) else logging.INFO


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
