"""Real parts for tests: key pairs, tokens signed by PyJWT, and a loopback identity provider."""

from __future__ import annotations

import json
import selectors
import socket
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


class LoopbackServer(ThreadingHTTPServer):
    """A threading HTTP server on loopback that stops as soon as it is told to.

    ``serve_forever`` notices ``shutdown()`` only at its next poll, up to half a second later;
    with hundreds of servers started and stopped, that wait was 40 % of the suite. This loop
    sleeps on the listening socket and on a wake-up socket pair, so ``close()`` returns at once.
    """

    daemon_threads = True

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler]) -> None:
        super().__init__(address, handler)
        self._wake_reader, self._wake_writer = socket.socketpair()
        self._closing = threading.Event()
        self._thread = threading.Thread(target=self._serve, name=f"loopback-{self.server_address[1]}", daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        with selectors.DefaultSelector() as selector:
            selector.register(self.socket, selectors.EVENT_READ)
            selector.register(self._wake_reader, selectors.EVENT_READ)
            while not self._closing.is_set():
                for key, _ in selector.select():
                    if key.fileobj is self.socket and not self._closing.is_set():
                        self._handle_request_noblock()  # accept, then a thread per connection

    def close(self) -> None:
        """Stop accepting, wait for the loop to end, and free the port (idempotent)."""
        if not self._closing.is_set():
            self._closing.set()
            self._wake_writer.send(b"\0")
            self._thread.join()
            self.server_close()
            self._wake_reader.close()
            self._wake_writer.close()


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
        self.server = LoopbackServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.issuer = f"{self.base}{issuer_path}"
        self.jwks_path = "/keys"
        self.jwks_uri = f"{self.base}{self.jwks_path}"
        self.discovery_path = f"{issuer_path}/.well-known/openid-configuration"
        self.documents[self.discovery_path] = {"issuer": self.issuer, "jwks_uri": self.jwks_uri}

    def publish(self, *pairs: KeyPair) -> None:
        self.documents[self.jwks_path] = jwks(*pairs)

    @property
    def jwks_fetches(self) -> int:
        return self.counts[self.jwks_path]

    def close(self) -> None:
        self.server.close()


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
    """Close a loopback server; kept for the tests that call it (``close()`` is quick itself now)."""
    provider.close()


# ----- helpers for the adversarial, fuzz and kid-flood suites (issue 6) ---------------------------


def b64url(data: bytes | str) -> str:
    """Unpadded base64url, the JWS spelling (RFC 7515 section 2)."""
    import base64

    raw = data.encode() if isinstance(data, str) else data
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _json_bytes(part: Mapping[str, Any] | bytes) -> bytes:
    return part if isinstance(part, bytes) else json.dumps(dict(part)).encode()


def compose(header: Mapping[str, Any] | bytes, payload: Mapping[str, Any] | bytes, signature: bytes = b"\x00") -> str:
    """A compact JWS from parts without signing anything: the raw material of forgeries.

    ``header`` and ``payload`` may be bytes, to carry JSON that ``json.dumps`` never writes
    (duplicate members, odd numbers, invalid UTF-8).
    """
    return f"{b64url(_json_bytes(header))}.{b64url(_json_bytes(payload))}.{b64url(signature)}"


def sign_parts(pair: KeyPair, header: Mapping[str, Any] | bytes, payload: Mapping[str, Any] | bytes) -> str:
    """Sign exactly these header and payload bytes with ``pair``'s real key and algorithm.

    Unlike ``KeyPair.sign`` this keeps the bytes as given, so a test can prove that a genuinely
    signed token is still refused for what its JSON says (duplicates, NaN, huge numbers).
    """
    from jwt.algorithms import get_default_algorithms

    signing_input = f"{b64url(_json_bytes(header))}.{b64url(_json_bytes(payload))}"
    signature = get_default_algorithms()[pair.alg].sign(signing_input.encode("ascii"), pair.private)
    return f"{signing_input}.{b64url(signature)}"


def self_signed_certificate(pair: KeyPair, common_name: str = "attacker.example") -> str:
    """``pair``'s public key in a self-signed X.509 certificate, base64 DER as in ``x5c``."""
    import base64
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.serialization import Encoding
    from cryptography.x509.oid import NameOID

    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(pair.private.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=365))
        .sign(pair.private, hashes.SHA256())
    )
    return base64.b64encode(cert.public_bytes(Encoding.DER)).decode("ascii")


def answer_with(status: int, body: bytes = b"") -> Responder:
    """A ``behaviour`` responder that answers every request with ``status`` and ``body``."""

    def respond(handler: BaseHTTPRequestHandler) -> bool:
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)
        return True

    return respond


@dataclass(frozen=True)
class Outcome:
    """What API Gateway would answer, and the reason the decision log line gives.

    ``status`` is 200 (allow), 403 (authenticated, route denied), 401 (``Unauthorized``) or 500
    (any other error); ``reason`` is the ``reason`` field of the handler's one log line.
    """

    status: int
    reason: str


def invoke(module: Any, event: Any) -> tuple[Outcome, dict[str, Any] | None]:
    """Call the handler once; map what it does to an ``Outcome`` and return its response too.

    The reason is read by wrapping ``OBSERVABILITY.decision`` (the function that writes the log
    line), so no log parsing is involved and the original still runs. An exception other than the
    two the handler is allowed to raise propagates, and so fails the calling test.
    """
    seen: list[tuple[str, str]] = []
    observability = module.OBSERVABILITY
    original = observability.decision

    def spy(outcome: str, reason: str, *args: Any, **kwargs: Any) -> None:
        seen.append((outcome, str(reason)))
        original(outcome, reason, *args, **kwargs)

    observability.decision = spy
    try:
        try:
            response = module.lambda_handler(event, LambdaContext())
        except module.Unauthorized as exc:
            assert str(exc) == "Unauthorized"
            assert len(seen) == 1 and seen[0][0] == "unauthorized", seen
            return Outcome(401, seen[0][1]), None
        except module.AuthorizerUnavailable as exc:
            assert str(exc) != "Unauthorized"
            assert len(seen) == 1 and seen[0][0] == "error", seen
            return Outcome(500, seen[0][1]), None
    finally:
        del observability.decision  # the instance attribute goes; the method shows through again
    assert len(seen) == 1 and seen[0][0] in {"allow", "deny"}, seen
    assert_well_formed(response)
    return Outcome(200 if seen[0][0] == "allow" else 403, seen[0][1]), response


def outcome_of(module: Any, event: Any) -> Outcome:
    return invoke(module, event)[0]


def assert_well_formed(response: Any) -> None:
    """An authorizer answer API Gateway accepts: a simple response or an IAM policy."""
    assert isinstance(response, dict)
    scalar = str | int | float | bool
    context = response.get("context", {})
    assert isinstance(context, dict)
    assert all(isinstance(k, str) and isinstance(v, scalar) for k, v in context.items()), context
    if "isAuthorized" in response:
        assert set(response) <= {"isAuthorized", "context"}
        assert isinstance(response["isAuthorized"], bool)
        return
    assert set(response) <= {"principalId", "policyDocument", "context", "usageIdentifierKey"}
    assert isinstance(response["principalId"], str) and response["principalId"]
    policy = response["policyDocument"]
    assert policy["Version"] == "2012-10-17"
    assert isinstance(policy["Statement"], list) and policy["Statement"]
    for statement in policy["Statement"]:
        assert statement["Action"] == "execute-api:Invoke"
        assert statement["Effect"] in {"Allow", "Deny"}
        assert isinstance(statement["Resource"], list)
        assert all(isinstance(r, str) for r in statement["Resource"])


def preserved_environ() -> Any:
    """A context manager that puts ``os.environ`` back as it was (``cold_start`` changes it)."""
    import contextlib
    import os

    @contextlib.contextmanager
    def restore() -> Any:
        saved = dict(os.environ)
        try:
            yield
        finally:
            os.environ.clear()
            os.environ.update(saved)

    return restore()


# Sample events in events/ are named after what API Gateway makes of them.
REFUSED_EVENT_WORDS = ("expired", "wrong-audience", "graph-token", "no-bearer", "missing-token")


def promised_outcome(event_name: str) -> str:
    """``"401"`` or ``"allow"``: the outcome an ``events/`` file's name promises."""
    if any(word in event_name for word in REFUSED_EVENT_WORDS):
        return "401"
    assert "allow" in event_name, f"{event_name}: name each event after its outcome"
    return "allow"


def run_cli(capsys: Any, *argv: str) -> tuple[int, str, str]:
    """``jwt-authorizer ARGV...`` in this process: exit code, stdout, stderr."""
    from jwt_authorizer.cli import main

    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def log_lines_of(captured: str) -> list[dict[str, Any]]:
    """The JSON log lines in captured stdout."""
    return [json.loads(line) for line in captured.splitlines() if line.startswith("{")]


def quick_provider(issuer_path: str = "") -> IdentityProvider:
    """An ``IdentityProvider`` tuned for request-heavy tests.

    TCP_NODELAY on its connections (otherwise Nagle and delayed ACKs add about 40 ms to every
    response, which is written in two sends) and a listen backlog for dozens of simultaneous
    connections (socketserver's default of 5 drops the rest until the client's SYN retry).
    """
    provider = IdentityProvider(issuer_path)
    provider.server.RequestHandlerClass.disable_nagle_algorithm = True  # type: ignore[attr-defined]
    provider.server.socket.listen(128)
    return provider
