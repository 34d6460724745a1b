"""Real parts for the revocation tests: a list served over loopback HTTP with ETags, and entries."""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler
from typing import Any

from jwt_authorizer.revocation import iso
from support import IdentityProvider

LIST_PATH = "/revocations.json"


def entry(
    kind: str, value: str, *, id: str | None = None, expires: float | None = None, **extra: Any
) -> dict[str, Any]:
    """A list entry as JSON; expires in a day unless told, with a reason."""
    out: dict[str, Any] = {
        "id": id or f"{kind}-{value}"[:100],
        "kind": kind,
        "value": value,
        "expires": iso(expires if expires is not None else time.time() + 86400),
        "reason": f"test revocation of {kind} {value}",
    }
    out.update(extra)
    return out


def document(*entries: dict[str, Any]) -> dict[str, Any]:
    return {"version": 1, "entries": list(entries)}


class ListServer:
    """A revocation list on the loopback ``IdentityProvider``: ETag, 304 and fault injection.

    ``fault`` (a responder, as in ``IdentityProvider.behaviour``) answers instead of the list while
    it is set. ``statuses`` records every status sent and ``conditional`` the If-None-Match values
    received (``None`` for an unconditional request).
    """

    def __init__(self, provider: IdentityProvider, path: str = LIST_PATH) -> None:
        self.provider = provider
        self.path = path
        self.url = f"{provider.base}{path}"
        self.body = json.dumps(document()).encode()
        self.etags = True
        self.fault: Callable[[BaseHTTPRequestHandler], bool] | None = None
        self.statuses: list[int] = []
        self.conditional: list[str | None] = []
        self._lock = threading.Lock()
        provider.behaviour[path] = self._answer

    def publish(self, *entries: dict[str, Any], raw: bytes | None = None) -> None:
        self.body = raw if raw is not None else json.dumps(document(*entries)).encode()

    @property
    def etag(self) -> str:
        return '"' + hashlib.sha256(self.body).hexdigest()[:16] + '"'

    @property
    def requests(self) -> int:
        return len(self.statuses)

    def _answer(self, handler: BaseHTTPRequestHandler) -> bool:
        # Everything is recorded before the answer is sent: the client may look as soon as it has it.
        etag, body = self.etag, self.body
        fault = self.fault
        unchanged = self.etags and handler.headers.get("If-None-Match") == etag
        with self._lock:
            self.conditional.append(handler.headers.get("If-None-Match"))
            self.statuses.append(-1 if fault is not None else 304 if unchanged else 200)
        if fault is not None and fault(handler):
            return True
        if unchanged:
            handler.send_response(304)
            handler.send_header("ETag", etag)
            handler.send_header("Content-Length", "0")
            handler.end_headers()
            return True
        handler.send_response(200)
        handler.send_header("Content-Type", "application/json")
        if self.etags:
            handler.send_header("ETag", etag)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)
        return True


class Events:
    """A listener that records what the revocation cache reports, fields included."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, dict[str, Any]]] = []

    def __call__(self, name: str, **fields: Any) -> None:
        self.seen.append((name, fields))

    def names(self) -> list[str]:
        return [name for name, _ in self.seen]

    def count(self, name: str) -> int:
        return self.names().count(name)

    def last(self, name: str) -> dict[str, Any]:
        return next(fields for seen, fields in reversed(self.seen) if seen == name)
