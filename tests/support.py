"""Real parts for tests: key pairs, tokens signed by PyJWT, and a loopback identity provider."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

_RSA_CACHE: dict[int, list[rsa.RSAPrivateKey]] = {}


@dataclass
class KeyPair:
    """A private key with the kid and JWK members its public half is published under."""

    private: Any
    kid: str
    alg: str
    extra: dict[str, Any] = field(default_factory=dict)

    def jwk(self, **overrides: Any) -> dict[str, Any]:
        public = self.private.public_key()
        if isinstance(public, rsa.RSAPublicKey):
            doc = RSAAlgorithm.to_jwk(public, as_dict=True)
        else:
            doc = ECAlgorithm.to_jwk(public, as_dict=True)
        doc.update({"kid": self.kid, "use": "sig"})
        doc.update(self.extra)
        doc.update(overrides)
        return {k: v for k, v in doc.items() if v is not None}

    def sign(self, claims: Mapping[str, Any], *, alg: str | None = None, **headers: Any) -> str:
        header = {"kid": self.kid, **headers}
        header = {k: v for k, v in header.items() if v is not None}
        return jwt.encode(dict(claims), self.private, algorithm=alg or self.alg, headers=header)


def rsa_pair(kid: str | None = None, *, bits: int = 2048, alg: str = "RS256", slot: int | None = None) -> KeyPair:
    """An RSA key pair; ``slot`` reuses one of a few pre-made keys (generation is slow)."""
    if slot is not None:
        pool = _RSA_CACHE.setdefault(bits, [])
        while len(pool) <= slot:
            pool.append(rsa.generate_private_key(65537, bits))
        private = pool[slot]
    else:
        private = rsa.generate_private_key(65537, bits)
    return KeyPair(private, kid or f"rsa-{uuid.uuid4().hex[:8]}", alg)


def ec_pair(kid: str | None = None, *, alg: str = "ES256") -> KeyPair:
    curve = {"ES256": ec.SECP256R1(), "ES384": ec.SECP384R1(), "ES512": ec.SECP521R1()}[alg]
    return KeyPair(ec.generate_private_key(curve), kid or f"ec-{uuid.uuid4().hex[:8]}", alg)


def jwks(*pairs: KeyPair) -> dict[str, Any]:
    return {"keys": [p.jwk() for p in pairs]}


def claims(issuer: str, audience: str | list[str] = "api://test", lifetime: int = 600, **extra: Any) -> dict[str, Any]:
    now = int(time.time())
    out: dict[str, Any] = {"iss": issuer, "aud": audience, "iat": now, "nbf": now, "exp": now + lifetime, "sub": "user-1"}
    out.update(extra)
    return {k: v for k, v in out.items() if v is not None}


Responder = Callable[[BaseHTTPRequestHandler], bool]


class IdentityProvider:
    """A real HTTP server on 127.0.0.1 serving discovery and JWKS, counting every request.

    ``behaviour[path]`` may replace a path's answer with a callable for fault injection; it
    returns True when it has answered.
    """

    def __init__(self, issuer_path: str = "") -> None:
        self.counts: Counter[str] = Counter()
        self.documents: dict[str, Any] = {}
        self.behaviour: dict[str, Responder] = {}
        self._lock = threading.Lock()
        provider = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib name
                return

            def do_GET(self) -> None:
                path = self.path.split("?")[0]
                with provider._lock:
                    provider.counts[path] += 1
                    provider.last_headers = dict(self.headers)
                custom = provider.behaviour.get(path)
                if custom is not None and custom(self):
                    return
                if path not in provider.documents:
                    self.send_response(404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                body = json.dumps(provider.documents[path]).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.last_headers: dict[str, str] = {}
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.issuer = f"{self.base}{issuer_path}"
        self.jwks_path = "/keys"
        self.jwks_uri = f"{self.base}{self.jwks_path}"
        self.discovery_path = f"{issuer_path}/.well-known/openid-configuration"
        self.documents[self.discovery_path] = {"issuer": self.issuer, "jwks_uri": self.jwks_uri}
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def publish(self, *pairs: KeyPair) -> None:
        self.documents[self.jwks_path] = jwks(*pairs)

    @property
    def jwks_fetches(self) -> int:
        return self.counts[self.jwks_path]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def env_for(provider: IdentityProvider, **overrides: str) -> dict[str, str]:
    """An environment that configures the function for this loopback issuer."""
    env = {"ISSUER": provider.issuer, "AUDIENCE": "api://test", "JWKS_PREFETCH": "false"}
    env.update(overrides)
    return {k: v for k, v in env.items() if v is not None}
