"""Assembling the engine from settings: the one place that decides which parts are real.

Collaborators (the HTTP fetcher, the clock, a listener for cache events) are parameters with
production defaults, so tests assemble the same engine with a loopback server and a frozen clock
instead of patching modules.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from .config import IssuerSettings, Settings
from .http import Fetcher, UrllibFetcher
from .jwks import KeyCache, KeyProvider, Listener, RemoteKeyProvider, StaticKeyProvider
from .verifier import IssuerVerifier, Verifier, wall_clock

if TYPE_CHECKING:
    from .revocation_source import RevocationCache


def build_fetcher(settings: Settings) -> UrllibFetcher:
    return UrllibFetcher(settings.http_connect_timeout, settings.http_timeout, settings.http_max_bytes)


def build_key_provider(issuer: IssuerSettings, fetcher: Fetcher) -> KeyProvider:
    if issuer.static_keys is not None:
        return StaticKeyProvider(issuer.static_keys, issuer.static_keys_origin or "pinned keys")
    return RemoteKeyProvider(
        fetcher,
        jwks_uri=issuer.jwks_uri,
        discovery_url=issuer.discovery_url,
        expected_issuers=issuer.issuers,
    )


def build_verifier(
    settings: Settings,
    *,
    fetcher: Fetcher | None = None,
    listener: Listener | None = None,
    clock: Callable[[], float] = wall_clock,
    monotonic: Callable[[], float] = time.monotonic,
    revocations: RevocationCache | None = None,
) -> Verifier:
    fetcher = fetcher or build_fetcher(settings)
    issuers: list[IssuerVerifier] = []
    for issuer in settings.issuers:
        cache = KeyCache(
            build_key_provider(issuer, fetcher),
            max_age=settings.jwks_max_age,
            penalty=settings.jwks_penalty,
            stale=settings.jwks_stale,
            retry=settings.jwks_retry,
            clock=monotonic,
            listener=listener,
        )
        if revocations is None:
            issuers.append(IssuerVerifier(issuer, cache))
        else:  # the revocation list is checked after every other check
            from .revoking import RevokingIssuerVerifier  # noqa: PLC0415 - only with a list

            issuers.append(RevokingIssuerVerifier(issuer, cache, revocations))
    return Verifier(issuers, settings.max_token_bytes, clock=clock)


def prefetch_all(
    verifier: Verifier, timeout: float, *, keys: bool = True, revocations: RevocationCache | None = None
) -> dict[str, bool]:
    """Warm every issuer's key cache (unless not ``keys``) and the revocation list at cold start,
    in parallel, best effort.

    An outage at init must not break the function: failures are reported, not raised, and the
    first request will try again under the caches' retry rules. Threads that outlive ``timeout``
    finish in the background (their fetch is bounded by the HTTP deadline anyway); a request that
    comes meanwhile waits for the fetch in flight instead of sending another.
    """
    results: dict[str, bool] = {}
    deadline = time.monotonic() + timeout
    listing = None
    if revocations is not None:  # on its own thread: its round trip overlaps the key fetch's
        listing = threading.Thread(target=revocations.prefetch, name="revocation-prefetch", daemon=True)
        listing.start()
    if keys:
        _prefetch_keys(verifier, deadline, results)
    if listing is not None:
        listing.join(max(0.0, deadline - time.monotonic()))
    return results


def _prefetch_keys(verifier: Verifier, deadline: float, results: dict[str, bool]) -> None:
    if len(verifier.issuers) == 1:
        only = verifier.issuers[0]
        results[only.settings.label] = only.keys.prefetch()
        return

    def run(issuer: IssuerVerifier) -> None:
        results[issuer.settings.label] = issuer.keys.prefetch()

    threads = [threading.Thread(target=run, args=(i,), daemon=True) for i in verifier.issuers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))


def build_revocations(
    settings: Settings,
    *,
    fetcher: UrllibFetcher | None = None,
    listener: Callable[..., None] | None = None,
    monotonic: Callable[[], float] = time.monotonic,
) -> RevocationCache | None:
    """The revocation list's cache (``None`` without a list); pass the key set's ``fetcher`` to share it."""
    if settings.revocation is None:
        return None  # without importing the revocation modules at all
    from .revocation_source import build_revocation_cache  # noqa: PLC0415 - only with a list

    return build_revocation_cache(settings, fetcher=fetcher, listener=listener, monotonic=monotonic)
