"""Assembling the engine from settings: the one place that decides which parts are real.

Collaborators (the HTTP fetcher, the clock, a listener for cache events) are parameters with
production defaults, so tests assemble the same engine with a loopback server and a frozen clock
instead of patching modules.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from .config import IssuerSettings, Settings
from .http import Fetcher, UrllibFetcher
from .jwks import KeyCache, KeyProvider, Listener, RemoteKeyProvider, StaticKeyProvider
from .verifier import IssuerVerifier, Verifier


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
    clock: Callable[[], float] = time.time,
    monotonic: Callable[[], float] = time.monotonic,
) -> Verifier:
    fetcher = fetcher or build_fetcher(settings)
    issuers = []
    for issuer in (settings.issuer,):
        cache = KeyCache(
            build_key_provider(issuer, fetcher),
            max_age=settings.jwks_max_age,
            penalty=settings.jwks_penalty,
            stale=settings.jwks_stale,
            retry=settings.jwks_retry,
            clock=monotonic,
            listener=listener,
        )
        issuers.append(IssuerVerifier(issuer, cache))
    return Verifier(issuers, settings.max_token_bytes, clock=clock)
