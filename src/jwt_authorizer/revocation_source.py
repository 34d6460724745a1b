"""Where the revocation list comes from (HTTPS, S3, a file) and the cache that keeps it fresh.

The cache lives in module state of the Lambda container, like the key cache, and follows the same
patterns (single flight, a retry window, stale-if-error), with rules of its own:

* the list is re-validated with the source every ``refresh`` seconds by a conditional request
  (ETag / If-None-Match), so an unchanged list costs one small request per container per interval,
  made by the decision that finds the interval over (bounded by the HTTP timeouts); callers that
  arrive meanwhile share its outcome (single flight) instead of asking again;
* a failed refresh keeps the last good list for ``stale`` seconds past the interval (with a
  metric and a log line on every failed attempt), and the source is not asked again for ``retry``
  seconds, so an outage does not add a timeout to every request;
* past that, ``stale_policy`` decides: ``closed`` answers 500 (the function cannot tell whether
  the caller was revoked in the meantime), ``open`` keeps deciding with the last good list;
* a container that never had a list follows ``cold_start_policy``: ``closed`` answers 500,
  ``open`` decides without a list (and counts every such decision);
* an invalid document is a failed refresh, never an empty list.

Why these defaults: docs/revocation.md ("Failure policies").
"""

from __future__ import annotations

import hashlib
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from .config import RevocationSettings, Settings
from .exceptions import FetchError, RevocationUnavailable
from .http import Conditional, read_capped
from .revocation import InvalidRevocationList, RevocationList, loads
from .urls import is_secure_url, redact_url

Listener = Callable[..., None]


# ----- sources ------------------------------------------------------------------------------------


class ListSource(Protocol):
    """Returns the list's bytes and ETag, or ``body=None`` when it is unchanged since ``etag``."""

    def load(self, etag: str | None) -> Conditional: ...

    def describe(self) -> str: ...


class ConditionalFetcher(Protocol):
    def fetch_conditional(self, url: str, etag: str | None) -> Conditional: ...


class HttpListSource:
    """An HTTPS URL, read by the key set's HTTP client: same limits, deadline and connection pool."""

    def __init__(self, fetcher: ConditionalFetcher, url: str) -> None:
        self._fetcher = fetcher
        self.url = url

    def load(self, etag: str | None) -> Conditional:
        return self._fetcher.fetch_conditional(self.url, etag)

    def describe(self) -> str:
        return redact_url(self.url)


class S3ListSource:
    """An S3 object, read with boto3's GetObject and IfNoneMatch (an unchanged list answers 304).

    boto3 is imported on first use: it is in the Lambda runtime, and an optional extra (``s3``)
    elsewhere. Timeouts and the size cap are the HTTP settings of the key fetch; one attempt per
    refresh (the cache decides when to try again). ``client`` is for tools that already have one.
    """

    def __init__(
        self,
        bucket: str,
        key: str,
        *,
        connect_timeout: float,
        read_timeout: float,
        max_bytes: int,
        client: Any = None,
    ) -> None:
        self.bucket = bucket
        self.key = key
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self.max_bytes = max_bytes
        self._client = client

    def describe(self) -> str:
        return f"s3://{self.bucket}/{self.key}"

    def client(self) -> Any:
        if self._client is None:
            try:
                import boto3  # noqa: PLC0415 - only for an S3 source
                from botocore.config import Config  # noqa: PLC0415
            except ImportError:
                raise FetchError(
                    f"reading {self.describe()} needs boto3 (in the Lambda runtime; locally: pip install "
                    "'jwt-authorizer[s3]')"
                ) from None
            config = Config(
                connect_timeout=self.connect_timeout,
                read_timeout=self.read_timeout,
                retries={"total_max_attempts": 1},
                user_agent_extra="jwt-authorizer",
            )
            self._client = boto3.client("s3", config=config)
        return self._client

    def load(self, etag: str | None) -> Conditional:
        from botocore.exceptions import BotoCoreError, ClientError  # noqa: PLC0415 - with boto3

        where = self.describe()
        deadline = time.monotonic() + self.read_timeout
        arguments: dict[str, Any] = {"Bucket": self.bucket, "Key": self.key}
        if etag is not None:
            arguments["IfNoneMatch"] = etag
        try:
            response = self.client().get_object(**arguments)
        except ClientError as exc:
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            if status == 304:
                return Conditional(None, etag)
            code = exc.response.get("Error", {}).get("Code", "error")
            hint = " (a missing object reads as AccessDenied without s3:ListBucket)" if code == "AccessDenied" else ""
            raise FetchError(f"GetObject {where} failed: {code} (HTTP {status}){hint}") from None
        except BotoCoreError as exc:
            raise FetchError(f"GetObject {where} failed: {type(exc).__name__}") from None
        return Conditional(
            read_object(response, where, self.max_bytes, deadline, self.read_timeout), response.get("ETag")
        )


def read_object(response: Any, where: str, max_bytes: int, deadline: float | None, timeout: float = 0) -> bytes:
    """A GetObject answer's body, within ``max_bytes`` (and ``deadline``); the CLI reads it so too."""
    from botocore.exceptions import BotoCoreError  # noqa: PLC0415 - with boto3

    body = response["Body"]
    try:
        declared = response.get("ContentLength")
        if isinstance(declared, int) and declared > max_bytes:
            raise FetchError(f"{where} is {declared} bytes, over {max_bytes}")
        return read_capped(body.read, where, max_bytes, deadline, f"GetObject {where} took longer than {timeout} s")
    except (BotoCoreError, OSError) as exc:
        raise FetchError(f"GetObject {where} failed while reading: {type(exc).__name__}") from None
    finally:
        body.close()


class FileListSource:
    """A local file (the CLI, ``explain`` and tests); its ETag is a digest of its bytes."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def describe(self) -> str:
        return str(self.path)

    def load(self, etag: str | None) -> Conditional:
        try:
            body = self.path.read_bytes()
        except OSError as exc:
            raise FetchError(f"cannot read {self.path}: {exc.strerror}") from None
        digest = hashlib.sha256(body).hexdigest()
        return Conditional(None if digest == etag else body, digest)


_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://")


def parse_location(location: str) -> tuple[str, str] | str | Path:
    """How an operator writes where a list is: ``(bucket, key)``, a secure URL, or a local path.

    One reading for every tool (``explain --revocations``, ``revoke --list``): ``s3://bucket/key``
    (any case); ``https://``, or ``http://`` on a loopback host, as the function's REVOCATION_URL;
    any other ``scheme://`` is refused (``ValueError``) rather than taken for a file name.
    """
    if location[:5].lower() == "s3://":
        bucket, _, key = location[5:].partition("/")
        if not bucket or not key:
            raise ValueError(f"{location!r} is not s3://bucket/key")
        return bucket, key
    if _SCHEME.match(location):
        if not is_secure_url(location):
            raise ValueError(
                f"{redact_url(location)} is not a list location: use a local path, s3://bucket/key or an "
                "https:// URL (http:// only on a loopback host)"
            )
        return location
    return Path(location)


def source_for(location: str, settings: Settings, fetcher: ConditionalFetcher | None = None) -> ListSource:
    """A source for a location as ``parse_location`` reads it; ``ValueError`` when it is none."""
    where = parse_location(location)
    if isinstance(where, tuple):
        return _s3_source(settings, *where)
    if isinstance(where, str):
        return HttpListSource(fetcher or _fetcher(settings), where)
    return FileListSource(where)


def configured_source(
    settings: Settings, revocation: RevocationSettings, fetcher: ConditionalFetcher | None = None
) -> ListSource:
    if revocation.url is not None:
        return HttpListSource(fetcher or _fetcher(settings), revocation.url)
    assert revocation.s3_bucket is not None and revocation.s3_key is not None  # noqa: S101 - config checks
    return _s3_source(settings, revocation.s3_bucket, revocation.s3_key)


def _fetcher(settings: Settings) -> ConditionalFetcher:
    from .factory import build_fetcher  # noqa: PLC0415 - factory imports this module lazily

    return build_fetcher(settings)


def _s3_source(settings: Settings, bucket: str, key: str) -> S3ListSource:
    return S3ListSource(
        bucket,
        key,
        connect_timeout=settings.http_connect_timeout,
        read_timeout=settings.http_timeout,
        max_bytes=settings.http_max_bytes,
    )


def load_once(source: ListSource) -> RevocationList:
    """One read of a list, for tools; ``FetchError`` or ``InvalidRevocationList`` when it fails."""
    loaded = source.load(None)
    if loaded.body is None:
        raise FetchError(f"{source.describe()} answered 304 to an unconditional request")
    return loads(loaded.body)


# ----- the cache ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _State:
    """The last good list and when the source last vouched for it, replaced as one value."""

    revocations: RevocationList
    confirmed_at: float
    etag: str | None
    digest: str


class RevocationCache:
    """The revocation list that survives warm invocations; see the module docstring for its rules."""

    def __init__(
        self,
        source: ListSource,
        *,
        refresh: float,
        retry: float,
        stale: float,
        stale_policy: str = "closed",
        cold_start_policy: str = "closed",
        clock: Callable[[], float] = time.monotonic,
        listener: Listener | None = None,
    ) -> None:
        self.source = source
        self.refresh = refresh
        self.retry = retry  # at most ``refresh`` (the configuration caps it)
        self.stale = stale
        self.stale_policy = stale_policy
        self.cold_start_policy = cold_start_policy
        self.clock = clock  # tests may replace it with a manual clock
        self._listener = listener
        self._lock = threading.Lock()
        self._state: _State | None = None
        self._attempts = 0  # finished attempts: callers that queued behind one share its outcome
        self._retry_after = float("-inf")
        self.last_error: str | None = None
        self.updates = 0

    # ----- what the engine calls --------------------------------------------------------------

    def current(self) -> RevocationList | None:
        """The list to decide with now, refreshed first when the interval is over.

        ``None`` when there is no list and the cold-start policy is ``open``; raises
        ``RevocationUnavailable`` (500) when the policy says not to decide without a usable list.
        """
        state = self._state
        if state is not None and self.clock() - state.confirmed_at < self.refresh:
            return state.revocations
        return self._after_refresh()

    def prefetch(self) -> bool:
        """Best-effort load at cold start; an outage here must not break the function."""
        self._refresh(self._attempts, force=True)
        return self.last_error is None

    # ----- what tools and logs read -----------------------------------------------------------

    def describe(self) -> str:
        return self.source.describe()

    def age(self) -> float | None:
        """Seconds since the source last confirmed the list (``None``: never loaded)."""
        state = self._state
        return None if state is None else self.clock() - state.confirmed_at

    @property
    def revocations(self) -> RevocationList | None:
        state = self._state
        return None if state is None else state.revocations

    # ----- internals --------------------------------------------------------------------------

    def _after_refresh(self) -> RevocationList | None:
        self._refresh(self._attempts)
        state = self._state
        if state is None:
            if self.cold_start_policy == "open":
                self._emit("revocation_unchecked")
                return None
            raise RevocationUnavailable(
                f"no revocation list has been loaded from {self.describe()}: {self.last_error or 'not tried yet'}"
            )
        age = self.clock() - state.confirmed_at
        if age < self.refresh + self.stale or self.stale_policy == "open":
            return state.revocations
        raise RevocationUnavailable(
            f"the revocation list from {self.describe()} was last confirmed {int(age)} s ago, over "
            f"REVOCATION_REFRESH_SECONDS + REVOCATION_STALE_SECONDS ({int(self.refresh + self.stale)} s): "
            f"{self.last_error}"
        )

    def _refresh(self, seen_attempts: int, *, force: bool = False) -> None:
        """One attempt for everyone waiting: whoever holds the lock asks the source, the rest share it."""
        with self._lock:
            if self._attempts != seen_attempts:
                return  # an attempt finished while this caller queued: its outcome stands
            now = self.clock()
            state = self._state
            if not force:
                if state is not None and now - state.confirmed_at < self.refresh:
                    return
                if now < self._retry_after:
                    return
            self._attempt(state)

    def _attempt(self, state: _State | None) -> None:
        """Ask the source once; the caller holds the lock. Never raises: the state tells the outcome."""
        self._emit("revocation_fetch")
        try:
            loaded = self.source.load(state.etag if state is not None else None)
            if loaded.body is None:
                if state is None:
                    raise FetchError(f"{self.describe()} answered 304 Not Modified to a request without an ETag")
                self._state = _State(state.revocations, self.clock(), loaded.etag or state.etag, state.digest)
            else:
                digest = hashlib.sha256(loaded.body).hexdigest()
                if state is not None and digest == state.digest:
                    self._state = _State(state.revocations, self.clock(), loaded.etag, digest)
                else:
                    revocations = loads(loaded.body)
                    self._state = _State(revocations, self.clock(), loaded.etag, digest)
                    self.updates += 1
                    self._emit(
                        "revocation_updated",
                        source=self.describe(),
                        entries=len(revocations),
                        etag=loaded.etag,
                    )
        except (FetchError, InvalidRevocationList) as exc:
            self._attempts += 1
            self.last_error = str(exc)
            self._retry_after = self.clock() + self.retry
            age = self.age()
            self._emit(
                "revocation_fetch_failed",
                source=self.describe(),
                error=self.last_error,
                list_age=None if age is None else int(age),
                entries=None if state is None else len(state.revocations),
            )
            return
        self._attempts += 1
        self.last_error = None
        self._retry_after = float("-inf")

    def _emit(self, event: str, **fields: Any) -> None:
        if self._listener is not None:
            self._listener(event, **fields)


def build_revocation_cache(
    settings: Settings,
    *,
    fetcher: ConditionalFetcher | None = None,
    source: ListSource | None = None,
    listener: Listener | None = None,
    monotonic: Callable[[], float] = time.monotonic,
) -> RevocationCache | None:
    """The configured list's cache, or ``None`` when no list is configured (the engine then pays nothing)."""
    revocation = settings.revocation
    if revocation is None:
        return None
    return RevocationCache(
        source or configured_source(settings, revocation, fetcher),
        refresh=revocation.refresh,
        retry=revocation.retry,
        stale=revocation.stale,
        stale_policy=revocation.stale_policy,
        cold_start_policy=revocation.cold_start_policy,
        clock=monotonic,
        listener=listener,
    )


# ----- one read, for tools ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ListReading:
    """The list as ``explain`` sees it: read once, or why it could not be read."""

    source: str
    revocations: RevocationList | None
    error: str | None = None
    cold_start_policy: str = "closed"


def read_once(location: str, settings: Settings, fetcher: ConditionalFetcher | None = None) -> ListReading:
    """Read the list at ``location`` once; failures are reported in the reading, not raised."""
    policy = settings.revocation.cold_start_policy if settings.revocation is not None else "closed"
    try:
        source = source_for(location, settings, fetcher)
    except ValueError as exc:
        return ListReading(redact_url(location), None, str(exc), policy)  # explain prints where it looked
    try:
        return ListReading(source.describe(), load_once(source), None, policy)
    except (FetchError, InvalidRevocationList) as exc:
        return ListReading(source.describe(), None, str(exc), policy)
