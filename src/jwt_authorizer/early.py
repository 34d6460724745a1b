"""Start fetching the key set before the rest of the function is imported.

A cold start spends most of its time importing (cryptography, PyJWT, urllib3, Powertools, this
package), and an identity provider in another region takes 100-200 ms to answer. Run one after the
other, the two add up on the first request of every new container; started here, from the
handler module's first lines, the request travels while the imports run.

Only the plain configuration is started early: one issuer from the single-issuer variables, keys
fetched (no pinned ``JWKS``/``JWKS_FILE``, ``JWKS_PREFETCH`` not off), a ``JWKS_URI`` or a discovery
document whose URL is known without the configuration loader. The fetch goes through the same
``UrllibFetcher`` (limits, deadline, no redirects) that the key cache then uses; the configuration,
validated afterwards as always, decides whether its answer is used: ``fetcher_for`` hands the
fetcher over only if the validated settings name the same URL and HTTP limits. Anything unusual
here just skips the early start: the cold start then fetches as before.
"""

from __future__ import annotations

import math
import os
import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from . import constants as c
from .entra import default_discovery_url, is_template
from .urls import is_secure_url

if TYPE_CHECKING:
    from .config import Settings
    from .http import UrllibFetcher

_READY_WAIT_SECONDS = 5.0
# Variables that make the configuration something other than the plain single-issuer one.
_NOT_PLAIN = (c.ISSUERS_ENV, c.ISSUERS_FILE_ENV, c.JWKS_INLINE_ENV, c.JWKS_FILE_ENV)


def _number(env: Mapping[str, str], name: str, default: float) -> float | None:
    raw = (env.get(name) or "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        return None  # the configuration loader will say what is wrong
    return value if math.isfinite(value) and value > 0 else None  # inf, nan, -1: the loader's to refuse


def _jwks_uri_of(document: Any, issuer: str) -> str | None:
    """The key set URL a discovery document names, if the key cache would fetch it too.

    The same conditions as ``jwks.RemoteKeyProvider``'s, which checks the document again on use:
    it names the configured issuer, and a secure ``jwks_uri``.
    """
    if not isinstance(document, dict) or document.get("issuer") != issuer:
        return None
    uri = document.get("jwks_uri")
    return uri if is_secure_url(uri) else None


class EarlyKeyFetch:
    """One background fetch of the key set (after the discovery document when ``discovery``)."""

    def __init__(self, url: str, *, issuer: str, discovery: bool, limits: tuple[float, float, int]) -> None:
        self.url = url
        self.issuer = issuer
        self.discovery = discovery
        self.limits = limits
        self._fetcher: UrllibFetcher | None = None
        self._ready = threading.Event()
        threading.Thread(target=self._run, name="jwks-early-fetch", daemon=True).start()
        # The thread imports the HTTP stack (which this thread needs anyway) and then sends at
        # once; sharing the interpreter with the imports below, it would send much later.
        self._ready.wait(_READY_WAIT_SECONDS)

    def _run(self) -> None:
        try:
            from .http import UrllibFetcher  # noqa: PLC0415 - imported here, off the main thread

            fetcher = UrllibFetcher(*self.limits)
            fetcher.expect(self.url)
            self._fetcher = fetcher
        finally:
            self._ready.set()
        issuer = self.issuer
        fetcher.fetch_early(self.url, follow=(lambda doc: _jwks_uri_of(doc, issuer)) if self.discovery else None)

    def fetcher_for(self, settings: Settings) -> UrllibFetcher | None:
        """The fetcher holding the early answer, if ``settings`` asks for exactly this fetch."""
        if len(settings.issuers) != 1:
            return None
        issuer = settings.issuers[0]
        url = issuer.jwks_uri if issuer.jwks_uri is not None else issuer.discovery_url
        limits = (settings.http_connect_timeout, settings.http_timeout, settings.http_max_bytes)
        if issuer.static_keys is not None or url != self.url or limits != self.limits:
            return None
        if not self._ready.wait(settings.http_connect_timeout + settings.http_timeout):
            return None
        return self._fetcher


def start(environ: Mapping[str, str] | None = None) -> EarlyKeyFetch | None:
    """Start the key-set fetch of a plain configuration now; ``None`` when it is not one."""
    env = os.environ if environ is None else environ
    if any((env.get(name) or "").strip() for name in _NOT_PLAIN):
        return None
    if (env.get(c.JWKS_PREFETCH_ENV) or "").strip().lower() in {"0", "false", "no", "off"}:
        return None
    issuer = (env.get(c.ISSUER_ENV) or "").strip()
    if not issuer or "," in issuer or is_template(issuer):
        return None
    url = (env.get(c.JWKS_URI_ENV) or "").strip()
    discovery = not url
    if discovery:
        url = (env.get(c.DISCOVERY_URL_ENV) or "").strip() or (default_discovery_url(issuer) or "")
    if not is_secure_url(url):
        return None
    connect = _number(env, c.HTTP_CONNECT_TIMEOUT_ENV, c.DEFAULT_HTTP_CONNECT_TIMEOUT_SECONDS)
    total = _number(env, c.HTTP_TIMEOUT_ENV, c.DEFAULT_HTTP_TIMEOUT_SECONDS)
    size = _number(env, c.HTTP_MAX_BYTES_ENV, c.DEFAULT_HTTP_MAX_BYTES)
    if connect is None or total is None or size is None or size != int(size):
        return None
    return EarlyKeyFetch(url, issuer=issuer, discovery=discovery, limits=(connect, total, int(size)))
