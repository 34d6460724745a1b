"""Fetching JSON from the identity provider with hard limits.

An authorizer waits on this call while API Gateway waits on the authorizer, so every request has a
connect timeout, a deadline for the whole response (a server that trickles bytes cannot hold us),
a size cap, no redirects (keys come from the configured URL, not wherever it points) and no retries
(the key cache decides when to try again).

A URL may carry credentials (``user:pass@``, a signed URL's query string), and the messages of
failed fetches reach the decision line: every message that names a URL names it through
``redact_url``.
"""

from __future__ import annotations

import http.client
import io
import json
import os
import socket
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol
from urllib.parse import urlsplit

import urllib3
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from .constants import USER_AGENT
from .exceptions import FetchError
from .urls import redact_url

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer


class Conditional(NamedTuple):
    """The answer to a conditional GET: ``body`` is ``None`` when the server said 304 Not Modified."""

    body: bytes | None
    etag: str | None


class Fetcher(Protocol):
    """Anything that turns a URL into parsed JSON or raises ``FetchError``."""

    def fetch_json(self, url: str) -> Any: ...


def _proxy_for(url: str) -> str | None:
    """The proxy the standard variables (HTTPS_PROXY, HTTP_PROXY, NO_PROXY) name for ``url``."""
    if not any(name.lower().endswith("_proxy") for name in os.environ):
        return None  # the common case, without importing urllib.request (and email, at cold start)
    import urllib.request  # noqa: PLC0415

    parts = urlsplit(url)
    proxies = urllib.request.getproxies_environment()
    proxy = proxies.get(parts.scheme)
    if not proxy:
        return None
    # Undocumented in typeshed, but it is the stdlib's own NO_PROXY matching (suffixes, "*").
    if urllib.request.proxy_bypass_environment(parts.hostname or "", proxies):  # type: ignore[attr-defined]
        return None
    return proxy


# ----- a deadline for the whole response ------------------------------------------------------------
#
# A socket timeout bounds each read, not their sum: a server that sends one byte just inside it can
# hold a request for as long as it likes, in the status line and headers (which urllib3 and
# http.client read line by line) as much as in the body. So the responses made by our connections
# read through a stream that, before every read, sets the socket timeout to the time left until
# the deadline of the fetch running on this thread.

_fetch_state = threading.local()


class _DeadlineReader(io.RawIOBase):
    """A socket's bytes, each read waiting only until the deadline."""

    def __init__(self, sock: socket.socket, deadline: float) -> None:
        super().__init__()
        self._sock = sock
        # The socket's own raw file keeps it open while the response is read, as http.client's does.
        self._raw = sock.makefile("rb", buffering=0)
        self._deadline = deadline

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: WriteableBuffer) -> int | None:
        remaining = self._deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("the response deadline has passed")
        self._sock.settimeout(remaining)
        return self._raw.readinto(buffer)

    def close(self) -> None:
        self._raw.close()
        super().close()


class _DeadlineSocket:
    """What ``http.client.HTTPResponse`` is given instead of the socket; it only calls makefile."""

    def __init__(self, sock: socket.socket, deadline: float) -> None:
        self._sock = sock
        self._deadline = deadline

    def makefile(self, mode: str, *args: Any, **kwargs: Any) -> io.BufferedReader:
        return io.BufferedReader(_DeadlineReader(self._sock, self._deadline))


class _DeadlineResponse(http.client.HTTPResponse):
    def __init__(self, sock: socket.socket, *args: Any, **kwargs: Any) -> None:
        deadline: float | None = getattr(_fetch_state, "deadline", None)
        if deadline is not None:
            sock = _DeadlineSocket(sock, deadline)  # type: ignore[assignment]
        super().__init__(sock, *args, **kwargs)


class _HTTPConnection(HTTPConnection):
    response_class = _DeadlineResponse


class _HTTPSConnection(HTTPSConnection):
    response_class = _DeadlineResponse


class _HTTPPool(HTTPConnectionPool):
    ConnectionCls = _HTTPConnection


class _HTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _HTTPSConnection


# ----- the fetcher ----------------------------------------------------------------------------------


class _Early:
    """A fetch started ahead of its ``fetch_json`` call (``UrllibFetcher.fetch_early``)."""

    __slots__ = ("done", "error", "value")

    def __init__(self) -> None:
        self.done = threading.Event()
        self.value: Any = None
        self.error: FetchError | None = None


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
        self._early: dict[str, _Early] = {}

    def _pool(self, url: str) -> urllib3.PoolManager:
        proxy = _proxy_for(url)
        pool = self._pools.get(proxy)
        if pool is None:
            kwargs: dict[str, Any] = {"num_pools": 4, "maxsize": 2, "retries": False}
            pool = urllib3.ProxyManager(proxy, **kwargs) if proxy else urllib3.PoolManager(**kwargs)
            pool.pool_classes_by_scheme = {"http": _HTTPPool, "https": _HTTPSPool}
            self._pools[proxy] = pool
        return pool

    def expect(self, url: str) -> None:
        """Announce a ``fetch_early(url)`` about to run: a ``fetch_json(url)`` meanwhile waits for it."""
        self._early[url] = _Early()

    def fetch_early(self, url: str, follow: Callable[[Any], str | None] | None = None) -> None:
        """Fetch an ``expect``-ed URL now, on this thread, for the one ``fetch_json(url)`` to come.

        The cold start fetches the key set this way while the rest of the function is imported.
        ``follow`` names a URL to fetch next from the answer (a discovery document's
        ``jwks_uri``), announced before the first answer is handed over so it is not fetched twice.
        """
        slot = self._early[url]
        following: str | None = None
        try:
            slot.value = self._fetch_json(url)
            following = follow(slot.value) if follow is not None else None
            if following is not None:
                self.expect(following)
        except Exception as exc:  # any failure: the one fetch_json to come reports it
            slot.error = (
                exc
                if isinstance(exc, FetchError)
                else FetchError(f"GET {redact_url(url)} failed: {type(exc).__name__}")
            )
        finally:
            slot.done.set()
        if following is not None:
            self.fetch_early(following)

    def fetch_json(self, url: str) -> Any:
        slot = self._early.pop(url, None)
        if slot is not None:
            # Fetched (or being fetched) early: its outcome, once, within the usual deadline.
            if not slot.done.wait(self.connect_timeout + self.total_timeout):
                raise self._too_slow(redact_url(url))
            if slot.error is not None:
                raise slot.error
            return slot.value
        return self._fetch_json(url)

    def _fetch_json(self, url: str) -> Any:
        shown = redact_url(url)
        body = self._get(url, shown, self._headers, conditional=False).body
        try:
            return json.loads(body or b"")
        except (ValueError, RecursionError) as exc:
            raise FetchError(f"GET {shown} did not return JSON: {exc}") from None

    def fetch_conditional(self, url: str, etag: str | None) -> Conditional:
        """GET ``url`` with ``If-None-Match``: the body and its ETag, or ``body=None`` on 304.

        Used for documents polled often (the revocation list), where an unchanged answer should
        cost a status line and no body; limits and rules are those of ``fetch_json``.
        """
        headers = self._headers if etag is None else {**self._headers, "If-None-Match": etag}
        return self._get(url, redact_url(url), headers, conditional=True)

    def _too_slow(self, shown: str) -> FetchError:
        return FetchError(f"GET {shown} took longer than {self.total_timeout} s")

    def _get(self, url: str, shown: str, headers: dict[str, str], *, conditional: bool) -> Conditional:
        """One GET under the whole-response deadline; 200 (or 304 when ``conditional``), else ``FetchError``."""
        deadline = time.monotonic() + self.total_timeout
        _fetch_state.deadline = deadline
        try:
            return self._request(url, shown, headers, deadline, conditional)
        finally:
            _fetch_state.deadline = None

    def _request(
        self, url: str, shown: str, headers: dict[str, str], deadline: float, conditional: bool
    ) -> Conditional:
        timeout = urllib3.Timeout(connect=min(self.connect_timeout, self.total_timeout), read=self.total_timeout)
        try:
            response = self._pool(url).request(
                "GET",
                url,
                headers=headers,
                timeout=timeout,
                redirect=False,
                retries=False,
                preload_content=False,
            )
        except urllib3.exceptions.ReadTimeoutError:
            raise self._too_slow(shown) from None
        except (urllib3.exceptions.HTTPError, http.client.HTTPException, OSError, ValueError) as exc:
            # ValueError: a URL urllib3 or the proxy lookup cannot read.
            raise FetchError(f"GET {shown} failed: {type(exc).__name__}") from None
        complete = False
        try:
            etag = response.headers.get("ETag")
            if conditional and response.status == 304:
                body = None
            elif response.status != 200:
                raise FetchError(f"GET {shown} answered HTTP {response.status}")
            else:
                declared = response.headers.get("Content-Length")
                if declared and declared.isdigit() and int(declared) > self.max_bytes:
                    raise FetchError(f"GET {shown} declares {declared} bytes, over {self.max_bytes}")
                body = self._read_body(response, shown, deadline)
            complete = True
        finally:
            if not complete:
                # What is left unread (an error page, the rest of a huge or slow body) must never be
                # read as the answer to the next request on this pooled connection: close it.
                response.close()
            response.release_conn()
        sent = headers.get("If-None-Match")
        return Conditional(body, etag or (sent if body is None else None))

    def _read_body(self, response: urllib3.BaseHTTPResponse, shown: str, deadline: float) -> bytes:
        try:
            return read_capped(response.read1, f"GET {shown}", self.max_bytes, deadline, str(self._too_slow(shown)))
        except urllib3.exceptions.ReadTimeoutError:
            raise self._too_slow(shown) from None
        except (urllib3.exceptions.HTTPError, http.client.HTTPException, OSError) as exc:
            raise FetchError(f"GET {shown} failed while reading: {type(exc).__name__}") from None


def read_capped(
    read: Callable[[int], bytes],
    where: str,
    max_bytes: int,
    deadline: float | None,
    too_slow: str,
) -> bytes:
    """A body read in pieces that stops at ``max_bytes`` and at ``deadline``, whoever serves it.

    The key set's GET and the revocation list's GetObject share it: a server that sends too much,
    or sends it too slowly, is cut off the same way (``FetchError``, with ``too_slow`` as its text).
    """
    chunks: list[bytes] = []
    size = 0
    while True:
        if deadline is not None and time.monotonic() >= deadline:
            raise FetchError(too_slow)
        chunk = read(65536)
        if not chunk:
            return b"".join(chunks)
        size += len(chunk)
        if size > max_bytes:
            raise FetchError(f"{where} sent more than {max_bytes} bytes")
        chunks.append(chunk)
