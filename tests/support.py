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
    out: dict[str, Any] = {
        "iss": issuer,
        "aud": audience,
        "iat": now,
        "nbf": now,
        "exp": now + lifetime,
        "sub": "user-1",
    }
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

            def log_message(self, format: str, *args: Any) -> None:
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


# ----- the Lambda side ------------------------------------------------------------------------------

ACCOUNT = "123456789012"
REGION = "eu-west-1"
API_ID = "abcdef1234"


@dataclass
class LambdaContext:
    """The attributes Powertools reads from the real Lambda context object."""

    function_name: str = "jwt-authorizer-test"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:jwt-authorizer-test"
    aws_request_id: str = "req-0001"


def rest_token_event(
    token: str | None,
    *,
    path: str = "orders/42",
    method: str = "GET",
    stage: str = "prod",
    partition: str = "aws",
    scheme: str = "Bearer ",
) -> dict[str, Any]:
    event: dict[str, Any] = {
        "type": "TOKEN",
        "methodArn": f"arn:{partition}:execute-api:{REGION}:{ACCOUNT}:{API_ID}/{stage}/{method}/{path}",
    }
    if token is not None:
        event["authorizationToken"] = f"{scheme}{token}"
    return event


def rest_request_event(
    headers: dict[str, str],
    *,
    path: str = "/orders/42",
    method: str = "GET",
    resource: str = "/orders/{id}",
    stage: str = "prod",
    multi: dict[str, list[str]] | None = None,
) -> dict[str, Any]:
    return {
        "type": "REQUEST",
        "methodArn": f"arn:aws:execute-api:{REGION}:{ACCOUNT}:{API_ID}/{stage}/{method}{path}",
        "resource": resource,
        "path": path,
        "httpMethod": method,
        "headers": headers,
        "multiValueHeaders": multi if multi is not None else {k: [v] for k, v in headers.items()},
        "queryStringParameters": {},
        "pathParameters": {"id": path.rsplit("/", 1)[-1]},
        "stageVariables": {},
        "requestContext": {
            "accountId": ACCOUNT,
            "apiId": API_ID,
            "stage": stage,
            "httpMethod": method,
            "resourcePath": resource,
            "path": f"/{stage}{path}",
            "requestId": "r-1",
        },
    }


def http_v1_event(token: str, *, path: str = "/orders/42", method: str = "GET") -> dict[str, Any]:
    event = rest_request_event({"Authorization": f"Bearer {token}"}, path=path, method=method, stage="$default")
    event.update({"version": "1.0", "identitySource": f"Bearer {token}", "authorizationToken": f"Bearer {token}"})
    return event


def http_v2_event(
    token: str | None, *, path: str = "/orders/42", method: str = "GET", route_key: str = "GET /orders/{id}"
) -> dict[str, Any]:
    headers = {"authorization": f"Bearer {token}"} if token is not None else {}
    return {
        "version": "2.0",
        "type": "REQUEST",
        "routeArn": f"arn:aws:execute-api:{REGION}:{ACCOUNT}:{API_ID}/$default/{method}{path}",
        "identitySource": [f"Bearer {token}"] if token is not None else [],
        "routeKey": route_key,
        "rawPath": path,
        "rawQueryString": "",
        "cookies": [],
        "headers": headers,
        "queryStringParameters": {},
        "requestContext": {
            "accountId": ACCOUNT,
            "apiId": API_ID,
            "stage": "$default",
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "192.0.2.1",
                "userAgent": "test",
            },
            "requestId": "r-2",
            "routeKey": route_key,
        },
        "pathParameters": {"id": path.rsplit("/", 1)[-1]},
        "stageVariables": {},
    }


def websocket_connect_event(
    token: str | None, *, header: str | None = None, parameter: str = "access_token"
) -> dict[str, Any]:
    headers = {"Host": "abcdef1234.execute-api.eu-west-1.amazonaws.com"}
    if header is not None:
        headers["Authorization"] = header
    return {
        "type": "REQUEST",
        "methodArn": f"arn:aws:execute-api:{REGION}:{ACCOUNT}:{API_ID}/prod/$connect",
        "headers": headers,
        "multiValueHeaders": {k: [v] for k, v in headers.items()},
        "queryStringParameters": {parameter: token} if token is not None else {},
        "stageVariables": {},
        "requestContext": {
            "routeKey": "$connect",
            "eventType": "CONNECT",
            "stage": "prod",
            "connectionId": "c-1",
            "apiId": API_ID,
            "requestId": "r-3",
        },
    }


# ----- helpers for the key cache and HTTP fault tests ---------------------------------------------


class ManualClock:
    """A monotonic clock that moves only when a test says so: cache windows without sleeping."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def stop_quickly(provider: IdentityProvider) -> None:
    """Close a loopback server without waiting out ``serve_forever``'s half-second poll."""
    import socket

    stopper = threading.Thread(target=provider.server.shutdown, daemon=True)
    stopper.start()
    host, port = provider.server.server_address[:2]
    while stopper.is_alive():
        # A connection wakes the server's select(), so it sees the shutdown request at once.
        try:
            socket.create_connection((str(host), int(port)), timeout=0.5).close()
        except OSError:
            pass
        stopper.join(0.01)
    provider.server.server_close()
