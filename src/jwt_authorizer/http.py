"""Fetching JSON from the identity provider with hard limits.

An authorizer waits on this call while API Gateway waits on the authorizer, so every request has a
connect timeout, a deadline for the whole response (a server that trickles bytes cannot hold us),
a size cap, no redirects (keys come from the configured URL, not wherever it points) and no retries
(the key cache decides when to try again).
"""

from __future__ import annotations

import json
import time
import urllib.request
from typing import Any, Protocol
from urllib.parse import urlsplit

import urllib3

from .constants import USER_AGENT
from .exceptions import FetchError


class Fetcher(Protocol):
    """Anything that turns a URL into parsed JSON or raises ``FetchError``."""

    def fetch_json(self, url: str) -> Any: ...


def _proxy_for(url: str) -> str | None:
    """The proxy the standard variables (HTTPS_PROXY, HTTP_PROXY, NO_PROXY) name for ``url``."""
    parts = urlsplit(url)
    proxies = urllib.request.getproxies_environment()
    proxy = proxies.get(parts.scheme)
    if not proxy:
        return None
    if urllib.request.proxy_bypass_environment(parts.hostname or "", proxies):
        return None
    return proxy


class UrllibFetcher:
    """urllib3 with pooled connections, kept in module state so warm calls reuse them."""

    def __init__(
        self,
        connect_timeout: float,
        total_timeout: float,
        max_bytes: int,
        user_agent: str = USER_AGENT,
    ) -> None:
        self.connect_timeout = connect_timeout
        self.total_timeout = total_timeout
        self.max_bytes = max_bytes
        self._headers = {"User-Agent": user_agent, "Accept": "application/json"}
        self._pools: dict[str | None, urllib3.PoolManager] = {}

    def _pool(self, url: str) -> urllib3.PoolManager:
        proxy = _proxy_for(url)
        pool = self._pools.get(proxy)
        if pool is None:
            kwargs: dict[str, Any] = {"num_pools": 4, "maxsize": 2, "retries": False}
            pool = urllib3.ProxyManager(proxy, **kwargs) if proxy else urllib3.PoolManager(**kwargs)
            self._pools[proxy] = pool
        return pool

    def fetch_json(self, url: str) -> Any:
        deadline = time.monotonic() + self.total_timeout
        timeout = urllib3.Timeout(
            connect=min(self.connect_timeout, self.total_timeout), read=self.total_timeout
        )
        try:
            response = self._pool(url).request(
                "GET",
                url,
                headers=self._headers,
                timeout=timeout,
                redirect=False,
                retries=False,
                preload_content=False,
            )
        except urllib3.exceptions.HTTPError as exc:
            raise FetchError(f"GET {url} failed: {type(exc).__name__}") from None
        try:
            if response.status != 200:
                raise FetchError(f"GET {url} answered HTTP {response.status}")
            declared = response.headers.get("Content-Length")
            if declared and declared.isdigit() and int(declared) > self.max_bytes:
                raise FetchError(f"GET {url} declares {declared} bytes, over {self.max_bytes}")
            body = self._read_body(response, url, deadline)
        finally:
            response.release_conn()
        try:
            return json.loads(body)
        except (ValueError, RecursionError) as exc:
            raise FetchError(f"GET {url} did not return JSON: {exc}") from None

    def _read_body(self, response: urllib3.BaseHTTPResponse, url: str, deadline: float) -> bytes:
        chunks: list[bytes] = []
        size = 0
        try:
            while True:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise FetchError(f"GET {url} took longer than {self.total_timeout} s")
                sock = getattr(getattr(response, "connection", None), "sock", None)
                if sock is not None:
                    # Each read waits at most until the deadline, however slowly bytes arrive.
                    sock.settimeout(remaining)
                chunk = response.read1(65536)  # type: ignore[attr-defined]
                if not chunk:
                    break
                size += len(chunk)
                if size > self.max_bytes:
                    raise FetchError(f"GET {url} sent more than {self.max_bytes} bytes")
                chunks.append(chunk)
        except urllib3.exceptions.HTTPError as exc:
            raise FetchError(f"GET {url} failed while reading: {type(exc).__name__}") from None
        except OSError as exc:
            raise FetchError(f"GET {url} failed while reading: {type(exc).__name__}") from None
        return b"".join(chunks)
