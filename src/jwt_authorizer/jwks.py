"""Where keys come from (discovery, a JWKS URI, or a pinned set) and the cache in front of them.

The cache lives in module state of the Lambda container, so one fetch serves every warm call.
Its rules, with the defaults justified in docs/configuration.md ("Key cache defaults, and why"):

* a key set older than ``max_age`` is refreshed before use;
* an unknown ``kid`` refetches at once (a rotated key verifies immediately), but a ``kid`` still
  unknown afterwards opens a penalty window in which unknown ``kid``s cost no fetch at all;
* concurrent callers share one fetch and its outcome, success or failure (single flight);
* when a refresh fails, the last good set keeps verifying for ``stale`` seconds past its age, and
  the source is not asked again for ``retry`` seconds, so an outage does not add a timeout to every
  request;
* an empty or unusable key set is treated as a failed fetch, never as "no keys are valid";
* whatever goes wrong while loading (a discovery document naming no string issuer, an unreadable
  ``jwks_uri``, an exception nobody foresaw) is a failed fetch too: it opens the retry window,
  keeps the stale keys serving and ends as a 500, never as an unexpected error per request;
* every key the set had to skip is reported to the listener (``key_skipped``, with its ``kid``,
  the reason and the redacted source), once per fetch.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from typing import Any, Protocol

from .exceptions import FetchError, KeySourceUnavailable, UnknownKeyError
from .http import Fetcher
from .keys import KeySet, SigningKey, UnusableKey, parse_jwks
from .urls import is_secure_url, redact_url

# Called as ``listener(name, **fields)``: ``fetch``, ``fetch_failed``, ``stale_served``,
# ``penalty_opened`` without fields; ``key_skipped`` with ``kid``, ``reason`` and ``source``.
Listener = Callable[..., None]


class KeyProvider(Protocol):
    """Produces a fresh ``KeySet`` or raises ``FetchError``."""

    def load(self) -> KeySet: ...

    def describe(self) -> str: ...


class StaticKeyProvider:
    """Pinned keys (inline JSON or a packaged file): no network, ever."""

    def __init__(self, key_set: KeySet, origin: str) -> None:
        if not key_set.keys:
            raise ValueError(f"{origin} holds no usable key: {key_set.skipped_words()}")
        self._key_set = key_set
        self._origin = origin

    def load(self) -> KeySet:
        return self._key_set

    def describe(self) -> str:
        return self._origin


class RemoteKeyProvider:
    """Keys from a JWKS URI, found through the configured issuer's discovery document if needed.

    The discovery document must name one of the configured issuers, and the ``jwks_uri`` it gives
    must itself be a secure URL; nothing in a token can change where keys come from.
    """

    def __init__(
        self,
        fetcher: Fetcher,
        *,
        jwks_uri: str | None = None,
        discovery_url: str | None = None,
        expected_issuers: Iterable[str] = (),
    ) -> None:
        if jwks_uri is None and discovery_url is None:
            raise ValueError("a remote key source needs a JWKS URI or a discovery URL")
        self._fetcher = fetcher
        self._jwks_uri = jwks_uri
        self._discovery_url = discovery_url
        self._expected_issuers = frozenset(expected_issuers)

    @property
    def jwks_uri(self) -> str | None:
        return self._jwks_uri

    def describe(self) -> str:
        """Where the keys come from, fit for a log line (``redact_url``)."""
        if self._jwks_uri is not None:
            return redact_url(self._jwks_uri)
        return f"discovery at {redact_url(self._discovery_url)}"

    def _discover(self, url: str) -> str:
        shown = redact_url(url)
        document = self._fetcher.fetch_json(url)
        if not isinstance(document, dict):
            raise FetchError(f"{shown} is not a JSON object")
        issuer = document.get("issuer")
        if not isinstance(issuer, str):
            raise FetchError(f"{shown} names no issuer string (its issuer is {type(issuer).__name__})")
        if self._expected_issuers and issuer not in self._expected_issuers:
            raise FetchError(
                f"{shown} names issuer {issuer[:200]!r}, not the configured {sorted(self._expected_issuers)}"
            )
        jwks_uri = document.get("jwks_uri")
        if not is_secure_url(jwks_uri):
            raise FetchError(f"{shown} gives no readable https jwks_uri (got {redact_url(jwks_uri)})")
        assert isinstance(jwks_uri, str)  # noqa: S101 - is_secure_url accepts strings only
        return jwks_uri

    def load(self) -> KeySet:
        if self._jwks_uri is None:
            assert self._discovery_url is not None  # noqa: S101 - guaranteed by __init__
            self._jwks_uri = self._discover(self._discovery_url)
        shown = redact_url(self._jwks_uri)
        try:
            key_set = parse_jwks(self._fetcher.fetch_json(self._jwks_uri))
        except UnusableKey as exc:
            raise FetchError(f"{shown}: {exc}") from None
        if not key_set.keys:
            detail = key_set.skipped_words() or "the key list is empty"
            raise FetchError(f"{shown} holds no usable key ({detail})")
        return key_set


class KeyCache:
    """The JWKS cache that survives warm invocations; see the module docstring for its rules."""

    def __init__(
        self,
        provider: KeyProvider,
        *,
        max_age: float,
        penalty: float,
        stale: float,
        retry: float,
        clock: Callable[[], float] = time.monotonic,
        listener: Listener | None = None,
    ) -> None:
        self.provider = provider
        self.max_age = max_age
        self.penalty = penalty
        self.stale = stale
        self.retry = retry
        self._clock = clock
        self._listener = listener
        self._lock = threading.Lock()
        # The last good key set and when it arrived, replaced as one value so that a reader never
        # pairs a new set with an old age (or the reverse) while another thread refreshes.
        self._current: tuple[KeySet, float] | None = None
        self._generation = 0
        # Finished fetches, good or failed: single flight compares this, so callers that queued
        # behind a fetch share its outcome, including a failure, instead of fetching in turn.
        self._attempts = 0
        self._penalty_until = float("-inf")
        self._retry_after = float("-inf")
        self.last_error: str | None = None

    # ----- what the verifier calls ------------------------------------------------------------

    def get(self, kid: str) -> SigningKey:
        """The key for ``kid``; ``UnknownKeyError`` (401) or ``KeySourceUnavailable`` (500)."""
        current = self._current
        if current is not None and self._clock() - current[1] < self.max_age:
            key = current[0].keys.get(kid)
            if key is not None:
                return key
            return self._get_unknown(kid)
        return self._get_after_refresh(kid)

    @property
    def key_set(self) -> KeySet | None:
        current = self._current
        return None if current is None else current[0]

    @property
    def generation(self) -> int:
        """Bumped on every successful refresh, so other caches can tell the key set changed."""
        return self._generation

    def fetched_age(self) -> float | None:
        current = self._current
        return None if current is None else self._clock() - current[1]

    def prefetch(self) -> bool:
        """Best-effort warm-up at cold start; an outage here must not break the function."""
        try:
            self._refresh(self._attempts)
        except FetchError:
            return False
        return True

    # ----- internals --------------------------------------------------------------------------

    def _lookup(self, kid: str) -> SigningKey | None:
        current = self._current
        return None if current is None else current[0].keys.get(kid)

    def _get_unknown(self, kid: str) -> SigningKey:
        if self._clock() < self._penalty_until:
            raise self._unknown(kid, refetched=False)
        try:
            refetched = self._refresh(self._attempts, kid)
        except FetchError:
            raise KeySourceUnavailable(
                f"kid {kid!r} is not cached and the key source failed: {self.last_error}"
            ) from None
        key = self._lookup(kid)
        if key is None:
            raise self._unknown(kid, refetched=refetched)
        return key

    def _get_after_refresh(self, kid: str) -> SigningKey:
        try:
            self._refresh(self._attempts, kid)
        except FetchError:
            current = self._current
            if current is None or self._clock() - current[1] >= self.max_age + self.stale:
                raise KeySourceUnavailable(
                    f"no usable key set: {self.last_error or 'the key source is unreachable'}"
                ) from None
            self._emit("stale_served")
            key = current[0].keys.get(kid)
            if key is None:
                raise KeySourceUnavailable(
                    f"kid {kid!r} is not in the stale key set and the key source is failing"
                ) from None
            return key
        key = self._lookup(kid)
        if key is None:
            raise self._unknown(kid, refetched=True)
        return key

    def _unknown(self, kid: str, *, refetched: bool) -> UnknownKeyError:
        current = self._current
        known = sorted(current[0].keys) if current is not None else []
        if isinstance(self.provider, StaticKeyProvider):
            message = "no key with this kid among the pinned keys"
        elif refetched:
            message = "no key with this kid in the key set, even after a refetch"
        else:
            message = "no key with this kid in the key set (refetch suppressed by the penalty window)"
        return UnknownKeyError(message, actual=kid, expected=known)

    def _refresh(self, seen_attempts: int, kid: str | None = None) -> bool:
        """Fetch once for everyone waiting: whoever holds the lock fetches, the rest share it.

        ``seen_attempts`` is the fetch count the caller saw before queueing; if a fetch finished
        since, its outcome is shared (a failure raises ``FetchError`` here too). Every decision is
        taken under the lock, so a burst of unknown ``kid``s costs one fetch, not one per thread
        that slipped in before the penalty window opened. Returns False only when the penalty
        window suppressed the fetch for an unknown ``kid``.
        """
        with self._lock:
            if self._attempts == seen_attempts:
                now = self._clock()
                current = self._current
                fresh = current is not None and now - current[1] < self.max_age
                if current is not None and fresh and (kid is None or kid in current[0].keys):
                    return True  # refreshed by someone else between the caller's look and now
                if fresh and now < self._penalty_until:
                    return False
                self._fetch(now)
            elif self.last_error is not None:
                raise FetchError(self.last_error)
            if kid is not None and self._lookup(kid) is None and self._clock() >= self._penalty_until:
                self._penalty_until = self._clock() + self.penalty
                self._emit("penalty_opened")
            return True

    def _fetch(self, now: float) -> None:
        """One request to the key source; the caller holds the lock."""
        if now < self._retry_after:
            raise FetchError(f"not retrying before the retry window ends: {self.last_error}")
        self._emit("fetch")
        try:
            key_set = self.provider.load()
        except Exception as exc:
            # Any failure to load is a key-source failure: FetchError says what; anything else
            # (a bug, a library meeting input nobody foresaw) is named by its type only, as its
            # message might quote a URL or a document.
            error = exc if isinstance(exc, FetchError) else None
            self._attempts += 1
            self.last_error = (
                str(error) if error is not None else f"{type(exc).__name__} while loading {self.provider.describe()}"
            )
            self._retry_after = self._clock() + self.retry
            self._emit("fetch_failed")
            raise FetchError(self.last_error) from None
        self._attempts += 1
        self._current = (key_set, self._clock())
        self._generation += 1
        self._retry_after = float("-inf")
        self._penalty_until = float("-inf")
        self.last_error = None
        if key_set.skipped:
            source = self.provider.describe()
            for note in key_set.skipped:
                self._emit("key_skipped", kid=note.kid, reason=note.code, source=source)

    def _emit(self, event: str, **fields: Any) -> None:
        if self._listener is not None:
            self._listener(event, **fields)
