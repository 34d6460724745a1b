"""Logs, metrics and traces: one structured line per decision, with its metrics embedded.

Each decision produces exactly one JSON line on the Powertools Logger's stream, in the same shape
as Powertools' own lines (level, message, timestamp, service, cold_start, function_*,
xray_trace_id) plus the decision's fields and where the request came from (``api_id``, ``stage``,
``account_id``, ``apigw_request_id``: the join key with API Gateway's access logs). The line
carries its metrics in CloudWatch's Embedded Metric Format (EMF), which CloudWatch extracts from
any JSON log line holding ``_aws``.

The EMF blob is built here rather than by Powertools Metrics because the decision count is
published under three dimension sets at once, ``[service]``, ``[service, outcome]`` and
``[service, outcome, reason]``, so an alarm on "any 500" or a graph of "every decision" needs no
metric math; Powertools serializes a single set. The blob of a given (outcome, reason) is encoded
once and only its timestamp changes, and the line is written directly rather than through
``logger.info``: the logging machinery costs about twice an RSA verification per call (``make
bench``).

Other events get lines of their own, when they happen and only then: ``ColdStart`` once per
container in the blob shape Powertools Metrics uses (dimensions ``function_name`` and
``service``); key-cache events (fetches, failures, skipped keys, penalty windows) with dimension
``service``; and a configuration error at cold start, which names the variable before the import
fails. A few counts ride on the decision line they belong to instead, as a second EMF directive
(stale keys served, revocation list requests and unchecked decisions). Every line that has a
``timestamp`` writes it the same way, ``2026-11-28T10:00:00.123Z``, Powertools Logger lines
included.

The raw token and its signature are never handed to anything here; URLs are logged without user
information, query or fragment. Event logging is never done, whatever
``POWERTOOLS_LOGGER_LOG_EVENT`` says: the handler is not wrapped by ``inject_lambda_context`` and
never logs the event.
"""

from __future__ import annotations

import logging
import os
import re
import sys
import time
from collections.abc import Mapping
from json.encoder import encode_basestring_ascii as _encode_text
from typing import IO, TYPE_CHECKING, Any

from .config import Settings
from .constants import (
    DEFAULT_METRICS_NAMESPACE,
    DEFAULT_SERVICE_NAME,
    METRICS_NAMESPACE_ENV,
    SERVICE_NAME_ENV,
    TRACE_DISABLED_ENV,
)
from .exceptions import ConfigurationError, FetchError, TokenRejected
from .incoming import parse_arn
from .jwks import KeyProvider, StaticKeyProvider
from .keys import KeySet
from .logline import dumps as _dumps
from .urls import redact_url

if TYPE_CHECKING:
    from aws_lambda_powertools.logging.logger import Logger

    from .verifier import Verifier

# The metric names and dimension sets the function publishes; template.yaml's alarms, dashboard
# and queries use them, and tests/test_template.py checks them against what a handler run emits.
DECISIONS = "Decisions"
COLD_START = "ColdStart"
CONFIGURATION_ERRORS = "ConfigurationErrors"
DECISION_DIMENSIONS = (("service",), ("service", "outcome"), ("service", "outcome", "reason"))
SERVICE_DIMENSIONS = (("service",),)
COLD_START_DIMENSIONS = (("function_name", "service"),)

# Key-cache and revocation-cache events worth a metric, by the name the caches report them under.
KEY_METRICS = {
    "fetch": "KeyFetches",
    "fetch_failed": "KeyFetchFailures",
    "stale_served": "StaleKeysServed",
    "penalty_opened": "UnknownKidPenalties",
    "key_skipped": "SkippedKeys",
    "revocation_fetch": "RevocationFetches",
    "revocation_updated": "RevocationListUpdates",
    "revocation_fetch_failed": "RevocationFetchFailures",
    "revocation_unchecked": "RevocationUnchecked",
}
# Events whose line is worth reading, not only counting: (level, location, message).
_EVENT_LINES = {
    "fetch": ("info", "key_cache", "key set fetched"),
    "fetch_failed": ("warning", "key_cache", "key fetch failed"),
    "penalty_opened": ("info", "key_cache", "unknown kid: refetches paused"),
    "key_skipped": ("warning", "key_cache", "key skipped"),
    "revocation_updated": ("info", "revocation", "revocation list loaded"),
    "revocation_fetch_failed": (
        "warning",
        "revocation",
        "revocation list refresh failed; the last good list stays in force",
    ),
}
# Fetches and failures of remote key sources are reported by ``ObservedKeyProvider``, which sees the
# network call itself; the cache's own "fetch" also fires for pinned keys, which fetch nothing.
_PROVIDER_EVENTS = frozenset({"fetch", "fetch_failed"})
# Events that happen to one request (every request, during an outage; a revocation refresh every
# REVOCATION_REFRESH_SECONDS) ride on that request's own decision line, as a second EMF directive
# with dimension ``service``: one line per decision stays, and a quiet refresh writes no line.
_RIDERS = frozenset({"stale_served", "revocation_fetch", "revocation_unchecked"})

_LEVELS = {"info": logging.INFO, "warning": logging.WARNING, "error": logging.ERROR}
_TIMESTAMP_FORMAT = "%Y-%m-%dT%H:%M:%S.%FZ"  # Powertools' formatter replaces %F with milliseconds
_MAX_FIELD_CHARS = 512
_MAX_ID_CHARS = 128
_MAX_STAGES = 4096
# The X-Ray trace header, which Lambda's runtime sets in os.environ for each invocation.
# ``os.environ.get`` encodes the name and decodes the value, and when the variable is absent it
# raises and catches a KeyError: microseconds per line, a sizeable share of a warm decision. Where
# os.environ keeps its values in a bytes-keyed dict (CPython on POSIX), that dict is read directly;
# it is the one os.environ updates, so every invocation's value is seen.
_TRACE_VARIABLE = "_X_AMZN_TRACE_ID"
_TRACE_KEY = _TRACE_VARIABLE.encode()
_environ_data = getattr(os.environ, "_data", None)
_ENVIRON_BYTES: dict[bytes, bytes] | None = (
    _environ_data if os.name == "posix" and isinstance(_environ_data, dict) else None
)


def _trace_header() -> str | None:
    return os.environ.get(_TRACE_VARIABLE)


# Up to whitespace: a credential may hold ";", "," or quotes, and a URL cut at one would leave the
# rest of it in the text. Punctuation that ends the match (a quote, a bracket) stays outside.
_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://\S+")
_CLOSING = "'\")]}>,;."


def _redact_match(match: re.Match[str]) -> str:
    url = match.group(0)
    bare = url.rstrip(_CLOSING)
    return redact_url(bare) + url[len(bare) :]


def redact_text(text: str) -> str:
    """``text`` with every URL in it redacted and its length bounded."""
    redacted = _URL.sub(_redact_match, text)
    return redacted if len(redacted) <= _MAX_FIELD_CHARS else redacted[:_MAX_FIELD_CHARS] + "..."


def as_text(value: Any) -> str:
    """One JSON type per field: ``actual``/``expected`` are strings whatever the claim's type was.

    Log stores (OpenSearch, Datadog) map a field's type from its first value and reject lines that
    disagree, so ``1764324000`` and ``["a", "b"]`` become ``"1764324000"`` and ``"a, b"``.
    """
    if isinstance(value, str):
        return value
    if isinstance(value, list | tuple):
        return ", ".join(as_text(item) for item in value)
    return _dumps(value)


def refusal_fields(exc: TokenRejected) -> dict[str, Any]:
    """The log fields of a refused token: what it was about, why, and actual/expected as strings."""
    fields: dict[str, Any] = {**getattr(exc, "log_fields", {}), **exc.details()}
    del fields["reason"]  # the line's metrics part names the reason (a dimension)
    for name in ("actual", "expected"):
        if name in fields:
            fields[name] = as_text(fields[name])
    return fields


class Observability:
    """The function's log lines and metrics: decisions, cold start, key-cache events."""

    def __init__(self, settings: Settings, stream: IO[str] | None = None) -> None:
        self.service = settings.service_name
        self.namespace = settings.metrics_namespace
        # Bound at cold start, as Powertools' Logger binds its handler to stdout.
        self._stream = stream if stream is not None else sys.stdout
        self._level = log_level()
        self._logger: Logger | None = None
        self._cold_start = True
        self._service_json = _dumps(self.service)
        self._prefixes: dict[str, str] = {}
        # (level, outcome, reason) -> (head, EMF before and after its timestamp, shown at this level)
        self._pieces: dict[tuple[str, str, str], tuple[str, str, str, bool]] = {}
        self._stages: dict[str, str] = {}
        self._riders: dict[str, int] = {}
        self._second: tuple[int, str] = (-1, "")  # one value: lines may be written from two threads

    @property
    def logger(self) -> Logger:
        """Powertools' Logger, for what is not a decision (unexpected errors); created on first use."""
        if self._logger is None:
            from aws_lambda_powertools.logging.logger import Logger  # noqa: PLC0415 - not on the cold path

            self._logger = Logger(service=self.service, stream=self._stream, datefmt=_TIMESTAMP_FORMAT, utc=True)
        return self._logger

    # ----- key-cache events -------------------------------------------------------------------

    def cache_event(self, name: str, **fields: Any) -> None:
        """Listener for ``KeyCache``; its fetches are counted by ``ObservedKeyProvider`` instead."""
        if name not in _PROVIDER_EVENTS:
            self.key_event(name, **fields)

    def key_event(self, name: str, **fields: Any) -> None:
        """One line when it happens: the metric (dimension ``service``) and, for failures, why.

        ``fields`` (``kid``, ``reason``, ``source``, ``error``...) are logged with URLs redacted;
        a fault here never reaches the key cache.
        """
        metric = KEY_METRICS.get(name)
        if metric is None:
            return
        if name in _RIDERS:
            self._riders[metric] = self._riders.get(metric, 0) + 1
            return
        try:
            level, location, message = _EVENT_LINES[name]
            # Key events keep the field the saved queries filter on; revocation events name their own.
            members: dict[str, Any] = {"key_event" if location == "key_cache" else "revocation_event": name}
            for key, value in fields.items():
                members[key] = redact_text(value) if isinstance(value, str) else as_text(value)
            self._event_line(level, location, message, members, {metric: 1}, dimensions=SERVICE_DIMENSIONS)
        except Exception as exc:  # logging must not break key lookups
            self.logger.error("key event log failed", extra={"error_type": type(exc).__name__})

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
        event: Any = None,
    ) -> None:
        """Write the one line for this decision, metrics included; never changes the decision.

        ``encoded`` holds more members already encoded as JSON (a remembered token's fields);
        ``event`` is API Gateway's event, for the API, stage, account and request ids.
        """
        try:
            if self._cold_start:
                self._cold_start_line(context)
            self._write(outcome, reason, fields, context, level=level, encoded=encoded, event=event)
        except Exception as exc:  # a logging fault must not turn a 401 into a 500
            self.logger.error("decision log failed", extra={"error_type": type(exc).__name__})
        self._cold_start = False

    def _write(
        self,
        outcome: str,
        reason: str,
        fields: dict[str, Any],
        context: Any,
        *,
        level: str,
        encoded: str,
        event: Any,
    ) -> None:
        # This runs on every warm call: its pieces are encoded once (the head per level, outcome
        # and reason; the API and stage per ARN; the second of the timestamp) and the line is
        # assembled in one expression and written at once.
        now = time.time()
        ms = int(now * 1000)
        emf = self._emf(outcome, reason, ms) if self._riders else None
        pieces = self._pieces.get((level, outcome, reason))
        if pieces is None:
            pieces = self._line_pieces(level, outcome, reason, context)
        head, emf_head, emf_tail, visible = pieces
        if emf is None:
            emf = f"{emf_head}{ms}{emf_tail}"
        stamp = self._stamp(ms)
        if not visible:
            # The level hides the line; its metrics still count (with the service dimension's value).
            self._stream.write(f'{{"service":{self._service_json},"timestamp":"{stamp}",{emf}}}\n')
            return
        request_id = getattr(context, "aws_request_id", None)
        where = apigw = ""
        if event.__class__ is dict:
            # API, stage and account come from the methodArn/routeArn, the only place a TOKEN event
            # has them, encoded once per stage (the ARN up to ``api/stage``: a REST ARN goes on with
            # the method and path of each request); API Gateway's request id is the per-request part.
            arn = event.get("methodArn") or event.get("routeArn")
            stage_key = None
            if arn.__class__ is str:
                cut = arn.find("/", arn.find("/") + 1)
                stage_key = arn[:cut] if cut > 0 else arn
            where = self._stages.get(stage_key) if stage_key is not None else None  # type: ignore[assignment]
            request_context = event.get("requestContext")
            if request_context.__class__ is not dict:
                request_context = None
            if where is None:
                where = self._stage_members(arn, stage_key, request_context)
            if request_context is not None:
                apigw_id = request_context.get("requestId")
                if apigw_id.__class__ is str and apigw_id:
                    apigw = f',"apigw_request_id":{_encode_text(apigw_id[:_MAX_ID_CHARS])}'
        trace = _ENVIRON_BYTES.get(_TRACE_KEY) if _ENVIRON_BYTES is not None else _trace_header()
        if trace:
            root = (trace.decode("ascii", "replace") if isinstance(trace, bytes) else trace).split(";", 1)[0]
            trace = f',"xray_trace_id":{_dumps(root.removeprefix("Root="))}'
        self._stream.write(
            f'{head}"{stamp}","cold_start":{"true" if self._cold_start else "false"},"function_request_id":'
            f"{_encode_text(request_id) if request_id.__class__ is str else _dumps(request_id)}{where}{apigw}"
            f"{trace or ''}{',' + _dumps(fields)[1:-1] if fields else ''}{',' + encoded if encoded else ''},{emf}}}\n"
        )

    def _line_pieces(self, level: str, outcome: str, reason: str, context: Any) -> tuple[str, str, str, bool]:
        """The constant parts of a decision line: its head, the EMF text around the timestamp, and
        whether the level shows it."""
        head = f'{self._prefix(level, context)}"message":{_dumps(f"{outcome}: {reason}")},"timestamp":'
        blob = emf_members(
            self.namespace, 0, {DECISIONS: 1}, DECISION_DIMENSIONS, {"outcome": outcome, "reason": reason}
        )
        emf_head, emf_tail = _dumps(blob)[1:-1].split('"Timestamp":0', 1)
        pieces = (head, emf_head + '"Timestamp":', emf_tail, self._level <= _LEVELS[level])
        self._pieces[(level, outcome, reason)] = pieces
        return pieces

    def _stage_members(self, arn: Any, stage_key: str | None, context: dict[str, Any] | None) -> str:
        """``,"api_id":...,"stage":...,"account_id":...`` of an ARN (remembered per stage), else of the context."""
        # Read for its api, stage and account only: the WebSocket form takes any rest (``$connect``
        # has no verb), so every execute-api ARN names them.
        route = parse_arn(arn, websocket=True) if isinstance(arn, str) else None
        values: dict[str, Any]
        if route is not None and route.valid:
            values = {"api_id": route.api_id, "stage": route.stage, "account_id": route.account}
        else:  # an emulator's ARN, or none: API Gateway's request context, when there is one
            context = context or {}
            values = {
                "api_id": context.get("apiId"),
                "stage": context.get("stage"),
                "account_id": context.get("accountId"),
            }
        present = {k: v[:_MAX_ID_CHARS] for k, v in values.items() if isinstance(v, str) and v}
        members = f",{_dumps(present)[1:-1]}" if present else ""
        if route is not None and route.valid and stage_key is not None:
            if len(self._stages) >= _MAX_STAGES:
                self._stages.clear()
            self._stages[stage_key] = members
        return members

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
        """The decision's EMF members with the riders (events of this request) as a second directive."""
        blob = emf_members(
            self.namespace,
            timestamp_ms,
            {DECISIONS: 1},
            DECISION_DIMENSIONS,
            {"outcome": outcome, "reason": reason},
        )
        riders = emf_members(self.namespace, timestamp_ms, self._riders, SERVICE_DIMENSIONS, {})
        self._riders = {}
        blob["_aws"]["CloudWatchMetrics"].extend(riders.pop("_aws")["CloudWatchMetrics"])
        blob.update(riders)
        return _dumps(blob)[1:-1]

    # ----- lines of their own -----------------------------------------------------------------

    def _cold_start_line(self, context: Any) -> None:
        """``ColdStart`` as Powertools Metrics publishes it: its own blob, function_name and service."""
        now = time.time()
        function_name = getattr(context, "function_name", None) or os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "")
        blob = emf_members(
            self.namespace,
            int(now * 1000),
            {COLD_START: 1},
            COLD_START_DIMENSIONS,
            {"function_name": str(function_name), "service": self.service},
        )
        self._stream.write(f'{{"timestamp":"{self._stamp(int(now * 1000))}",{_dumps(blob)[1:-1]}}}\n')

    def _event_line(
        self,
        level: str,
        location: str,
        message: str,
        members: Mapping[str, Any],
        metrics: Mapping[str, float],
        *,
        dimensions: tuple[tuple[str, ...], ...],
    ) -> None:
        now = time.time()
        blob = emf_members(self.namespace, int(now * 1000), metrics, dimensions, {})
        line: dict[str, Any] = {"service": self.service, "timestamp": self._stamp(int(now * 1000))}
        if self._level <= _LEVELS[level]:
            line = {"level": level.upper(), "location": location, "message": message, **line, **members}
        line.update(blob)
        self._stream.write(_dumps(line) + "\n")

    def _stamp(self, ms: int) -> str:
        """``timestamp`` of a moment in milliseconds, the part up to the second formatted once per second."""
        second = ms // 1000
        cached = self._second
        if cached[0] != second:
            cached = self._second = (second, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second)))
        return f"{cached[1]}.{ms % 1000:03d}Z"


def timestamp(now: float) -> str:
    """The one timestamp format of every line: RFC 3339, UTC, milliseconds (``2026-11-28T10:00:00.123Z``)."""
    ms = int(now * 1000)
    return f"{time.strftime('%Y-%m-%dT%H:%M:%S', time.gmtime(ms // 1000))}.{ms % 1000:03d}Z"


def emf_members(
    namespace: str,
    timestamp_ms: int,
    metrics: Mapping[str, float],
    dimensions: tuple[tuple[str, ...], ...],
    values: Mapping[str, str],
) -> dict[str, Any]:
    """The EMF part of a line: ``_aws`` metadata, dimension values (``values``) and metric values.

    The ``service`` value of the dimension sets is the line's own ``service`` member (written
    once per line; a JSON object with a member twice is read differently by different parsers).
    """
    return {
        "_aws": {
            "Timestamp": timestamp_ms,
            "CloudWatchMetrics": [
                {
                    "Namespace": namespace,
                    "Dimensions": [list(names) for names in dimensions],
                    "Metrics": [{"Name": name, "Unit": "Count"} for name in metrics],
                }
            ],
        },
        **values,
        **metrics,
    }


def configuration_failed(exc: ConfigurationError, environ: Mapping[str, str] | None = None) -> None:
    """The cold start's last words: one structured line and a ``ConfigurationErrors`` metric.

    Called before the import of the handler fails, so the settings do not exist: service and
    namespace are read from the environment as ``load_settings`` would. The line names the
    variable and the fix; the traceback Lambda writes next says the same less readably.
    """
    env = os.environ if environ is None else environ
    now = time.time()
    service = (env.get(SERVICE_NAME_ENV) or "").strip() or DEFAULT_SERVICE_NAME
    namespace = (env.get(METRICS_NAMESPACE_ENV) or "").strip() or DEFAULT_METRICS_NAMESPACE
    line: dict[str, Any] = {
        "level": "ERROR",
        "location": "cold_start",
        "message": f"configuration_error: {exc.variable}",
        "timestamp": timestamp(now),
        "service": service,
        "reason": "configuration_error",
        "variable": exc.variable,
        "detail": redact_text(exc.problem),
        "fix": redact_text(exc.fix),
    }
    function_name = env.get("AWS_LAMBDA_FUNCTION_NAME")
    if function_name:
        line["function_name"] = function_name
    line.update(emf_members(namespace, int(now * 1000), {CONFIGURATION_ERRORS: 1}, SERVICE_DIMENSIONS, {}))
    sys.stdout.write(_dumps(line) + "\n")
    sys.stdout.flush()


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
            subsegment.put_annotation("key_source", redact_text(self._provider.describe()))
            return self._provider.load()

    def describe(self) -> str:
        return self._provider.describe()


class ObservedKeyProvider:
    """Wraps a remote key provider: each answered request is a ``KeyFetches``, each failure a line.

    The wrapper sees what the cache's listener cannot: that the load went to the network (pinned
    keys never do), which issuer it was for, and why it failed.
    """

    def __init__(self, provider: KeyProvider, observability: Observability, issuer: str) -> None:
        self._provider = provider
        self._observability = observability
        self._issuer = issuer

    def load(self) -> KeySet:
        source = self._provider.describe()
        try:
            key_set = self._provider.load()
        except Exception as exc:
            # Whatever the failure, the cache answers KeySourceUnavailable (500): the alarm's metric
            # must count it. Anything but FetchError is named by its type, as the cache names it.
            error = str(exc) if isinstance(exc, FetchError) else f"{type(exc).__name__} while loading {source}"
            self._observability.key_event("fetch_failed", issuer=self._issuer, source=source, error=error)
            raise
        self._observability.key_event("fetch", issuer=self._issuer, source=self._provider.describe())
        return key_set

    def describe(self) -> str:
        return self._provider.describe()


def observe_key_sources(verifier: Verifier, observability: Observability, *, tracing: bool) -> None:
    """Wrap each issuer's key provider: fetch metrics for remote sources, X-Ray subsegments if tracing."""
    for issuer in verifier.issuers:
        provider = issuer.keys.provider
        if tracing:
            provider = TracedKeyProvider(provider, observability.service)
        if not isinstance(issuer.keys.provider, StaticKeyProvider):
            provider = ObservedKeyProvider(provider, observability, issuer.settings.label)
        issuer.keys.provider = provider
