"""The key fetch against a misbehaving identity provider, over real loopback sockets.

Every fault is served by a real HTTP server (or a real socket that refuses, or accepts and says
nothing). Each case checks the decision the verifier makes, the reason it records (which tells a
fired deadline from a broken answer, so nothing here is timed with a stopwatch), what the cache
holds afterwards and how many requests were made. Time inside the cache is a manual clock; only
the network waits are real.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any

import pytest

from jwt_authorizer.config import load_settings
from jwt_authorizer.exceptions import FetchError, KeySourceUnavailable
from jwt_authorizer.factory import build_verifier
from jwt_authorizer.http import UrllibFetcher
from jwt_authorizer.jwks import KeyCache
from jwt_authorizer.verifier import Verifier
from support import IdentityProvider, KeyPair, ManualClock, claims, env_for, jwks, rsa_pair, stop_quickly

TIMEOUT = 1.0  # HTTP_TIMEOUT_SECONDS in these tests (a loaded CI machine answers a fast fault within it)
TRICKLE_SECONDS = 10.0  # how long a trickling server keeps a response going before it hangs up
MAX_BYTES = 256 * 1024  # the default HTTP_MAX_BYTES
TEN_MB = 10 * 1024 * 1024
PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "ALL_PROXY", "REQUEST_METHOD")


@pytest.fixture(autouse=True)
def _no_proxy_from_the_outside(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)


@pytest.fixture
def stop() -> Iterator[threading.Event]:
    """Set at teardown: tells hanging and trickling responders to give up."""
    event = threading.Event()
    yield event
    event.set()


@pytest.fixture
def idp(stop: threading.Event) -> Iterator[IdentityProvider]:
    provider = IdentityProvider()
    yield provider
    stop.set()
    stop_quickly(provider)


@pytest.fixture
def signer() -> KeyPair:
    return rsa_pair("key-1", slot=0)


def make_verifier(idp: IdentityProvider, clock: ManualClock, jwks_uri: str | None = None) -> Verifier:
    env = env_for(
        idp,
        JWKS_URI=jwks_uri or idp.jwks_uri,
        HTTP_TIMEOUT_SECONDS=str(TIMEOUT),
        HTTP_CONNECT_TIMEOUT_SECONDS=str(TIMEOUT),
        JWKS_MAX_AGE_SECONDS="60",
        JWKS_RETRY_SECONDS="10",
        JWKS_STALE_SECONDS="600",
    )
    return build_verifier(load_settings(env), monotonic=clock)


def cache_of(verifier: Verifier) -> KeyCache:
    return verifier.issuers[0].keys


def unavailable(verifier: Verifier, token: str) -> None:
    """The verifier answers KeySourceUnavailable (a 500), never a 401."""
    with pytest.raises(KeySourceUnavailable):
        verifier.verify(token)


# ----- responders: each answers one request the way a broken server would --------------------------


@dataclass
class Fault:
    """A broken answer for the JWKS path and the reason the cache must record for it."""

    respond: Callable[[BaseHTTPRequestHandler, threading.Event, str], None]
    error: str
    requested_elsewhere: list[str] = field(default_factory=list)


def _head(handler: BaseHTTPRequestHandler, status: int, headers: dict[str, str]) -> None:
    handler.send_response(status)
    for name, value in headers.items():
        handler.send_header(name, value)
    handler.end_headers()


def _write(handler: BaseHTTPRequestHandler, data: bytes) -> bool:
    try:
        handler.wfile.write(data)
        handler.wfile.flush()
    except OSError:
        return False
    return True


def _big_jwks() -> bytes:
    # A genuine JWKS padded to 10 MB: only the size can be the reason it is refused.
    document = jwks(rsa_pair("key-1", slot=0))
    document["padding"] = "x" * TEN_MB
    return json.dumps(document).encode()


BIG = _big_jwks()


def answer_500(handler: BaseHTTPRequestHandler, stop: threading.Event, base: str) -> None:
    body = b'{"error": "internal"}'
    _head(handler, 500, {"Content-Type": "application/json", "Content-Length": str(len(body))})
    _write(handler, body)


def answer_not_json(handler: BaseHTTPRequestHandler, stop: threading.Event, base: str) -> None:
    body = b"<html><body>Service temporarily unavailable</body></html>"
    _head(handler, 200, {"Content-Type": "text/html", "Content-Length": str(len(body))})
    _write(handler, body)


def answer_truncated(handler: BaseHTTPRequestHandler, stop: threading.Event, base: str) -> None:
    _head(handler, 200, {"Content-Type": "application/json", "Content-Length": "5000"})
    _write(handler, b'{"keys": [')
    handler.close_connection = True


def _stream(handler: BaseHTTPRequestHandler, stop: threading.Event, *, chunked: bool) -> None:
    for start in range(0, len(BIG), 65536):
        piece = BIG[start : start + 65536]
        if chunked:
            piece = b"%x\r\n%s\r\n" % (len(piece), piece)
        if stop.is_set() or not _write(handler, piece):
            break
    else:
        if chunked:
            _write(handler, b"0\r\n\r\n")
    handler.close_connection = True


def answer_10mb_declared(handler: BaseHTTPRequestHandler, stop: threading.Event, base: str) -> None:
    _head(handler, 200, {"Content-Type": "application/json", "Content-Length": str(len(BIG))})
    _stream(handler, stop, chunked=False)


def answer_10mb_until_close(handler: BaseHTTPRequestHandler, stop: threading.Event, base: str) -> None:
    # No Content-Length and no chunking: the body ends when the server closes the connection.
    _head(handler, 200, {"Content-Type": "application/json", "Connection": "close"})
    _stream(handler, stop, chunked=False)


def answer_10mb_chunked(handler: BaseHTTPRequestHandler, stop: threading.Event, base: str) -> None:
    _head(handler, 200, {"Content-Type": "application/json", "Transfer-Encoding": "chunked"})
    _stream(handler, stop, chunked=True)


def _trickle(handler: BaseHTTPRequestHandler, stop: threading.Event, byte: bytes) -> None:
    # One byte every 50 ms, far inside any per-read timeout, for TRICKLE_SECONDS, then the server
    # hangs up. Only a deadline for the whole response ends the fetch while bytes still come, with
    # "took longer than"; without one the client reads on until the hang-up and reports a broken
    # answer instead. The message tells the two apart, so no test here needs a stopwatch.
    for _ in range(int(TRICKLE_SECONDS / 0.05)):
        if stop.wait(0.05) or not _write(handler, byte):
            break
    handler.close_connection = True


def answer_trickling_body(handler: BaseHTTPRequestHandler, stop: threading.Event, base: str) -> None:
    _head(handler, 200, {"Content-Type": "application/json", "Content-Length": "100000"})
    _trickle(handler, stop, b" ")


def answer_trickling_headers(handler: BaseHTTPRequestHandler, stop: threading.Event, base: str) -> None:
    _write(handler, b"HTTP/1.1 200 OK\r\nX-Slow: ")
    _trickle(handler, stop, b"a")


def answer_trickling_chunk_size(handler: BaseHTTPRequestHandler, stop: threading.Event, base: str) -> None:
    _head(handler, 200, {"Content-Type": "application/json", "Transfer-Encoding": "chunked"})
    _write(handler, b'a\r\n{"keys": [\r\n')
    _trickle(handler, stop, b"0")  # a chunk-size line that never ends


def answer_nothing(handler: BaseHTTPRequestHandler, stop: threading.Event, base: str) -> None:
    stop.wait(10)
    handler.close_connection = True


def answer_redirect(handler: BaseHTTPRequestHandler, stop: threading.Event, base: str) -> None:
    _head(handler, 302, {"Location": f"{base}/moved", "Content-Length": "0"})


FAULTS = {
    "http_500": Fault(answer_500, "answered HTTP 500"),
    "not_json": Fault(answer_not_json, "did not return JSON"),
    "truncated": Fault(answer_truncated, "failed while reading: ProtocolError"),
    "10mb_declared": Fault(answer_10mb_declared, f"declares {len(BIG)} bytes, over {MAX_BYTES}"),
    "10mb_until_close": Fault(answer_10mb_until_close, f"sent more than {MAX_BYTES} bytes"),
    "10mb_chunked": Fault(answer_10mb_chunked, f"sent more than {MAX_BYTES} bytes"),
    "trickling_body": Fault(answer_trickling_body, f"took longer than {TIMEOUT} s"),
    "trickling_headers": Fault(answer_trickling_headers, f"took longer than {TIMEOUT} s"),
    "trickling_chunk_size": Fault(answer_trickling_chunk_size, f"took longer than {TIMEOUT} s"),
    "accepts_and_hangs": Fault(answer_nothing, f"took longer than {TIMEOUT} s"),
    "redirect": Fault(answer_redirect, "answered HTTP 302", requested_elsewhere=["/moved"]),
}


@pytest.mark.parametrize("name", list(FAULTS))
def test_fault_cold_then_recovery_then_warm(
    idp: IdentityProvider, signer: KeyPair, stop: threading.Event, name: str
) -> None:
    fault = FAULTS[name]
    idp.publish(signer)
    idp.documents["/moved"] = jwks(signer)  # where a redirect points; must never be asked

    def broken(handler: BaseHTTPRequestHandler) -> bool:
        fault.respond(handler, stop, idp.base)
        return True

    clock = ManualClock()
    verifier = make_verifier(idp, clock)
    cache = cache_of(verifier)
    token = signer.sign(claims(idp.issuer))

    # Cold cache: the fault is "cannot decide" (500), never a 401.
    idp.behaviour[idp.jwks_path] = broken
    unavailable(verifier, token)
    assert cache.key_set is None
    assert cache.generation == 0
    assert cache.last_error is not None and fault.error in cache.last_error
    assert idp.jwks_fetches == 1

    # Inside the retry window the server is not asked again: no timeout added per request.
    clock.advance(9)
    unavailable(verifier, token)
    assert idp.jwks_fetches == 1

    # The server comes back: the first refresh after the retry window succeeds.
    del idp.behaviour[idp.jwks_path]
    clock.advance(2)
    assert verifier.verify(token).key.kid == signer.kid
    assert idp.jwks_fetches == 2
    assert cache.generation == 1
    assert cache.last_error is None
    good = cache.key_set
    assert good is not None and list(good.keys) == [signer.kid]

    # Warm cache past its max age, same fault: the last good keys keep verifying (stale).
    idp.behaviour[idp.jwks_path] = broken
    clock.advance(61)
    assert verifier.verify(token).key.kid == signer.kid
    assert idp.jwks_fetches == 3
    assert cache.key_set is good
    assert cache.generation == 1
    assert cache.last_error is not None and fault.error in cache.last_error
    for path in fault.requested_elsewhere:
        assert idp.counts[path] == 0


def test_each_fault_answers_within_the_deadline_through_the_fetcher(
    idp: IdentityProvider, stop: threading.Event
) -> None:
    """The fetcher alone: every fault is a FetchError, and the fetcher stays usable afterwards."""
    fetcher = UrllibFetcher(TIMEOUT, TIMEOUT, MAX_BYTES)
    idp.documents["/fine"] = {"keys": []}
    for name, fault in FAULTS.items():
        path = f"/{name}"
        idp.behaviour[path] = lambda handler, fault=fault: fault.respond(handler, stop, idp.base) or True
        with pytest.raises(FetchError) as info:
            fetcher.fetch_json(idp.base + path)
        assert fault.error in str(info.value), name
        assert idp.counts[path] == 1, name
        # A broken answer must not poison the pooled connection for the next request.
        assert fetcher.fetch_json(idp.base + "/fine") == {"keys": []}, name
    assert idp.counts["/moved"] == 0
    assert idp.counts["/fine"] == len(FAULTS)


def test_size_cap_is_exact(idp: IdentityProvider) -> None:
    fetcher = UrllibFetcher(TIMEOUT, TIMEOUT, 1024)
    at_cap = {"pad": "x" * (1024 - len('{"pad": ""}'))}
    assert len(json.dumps(at_cap)) == 1024
    idp.documents["/at-cap"] = at_cap
    idp.documents["/over-cap"] = {"pad": at_cap["pad"] + "x"}
    assert fetcher.fetch_json(idp.base + "/at-cap") == at_cap
    with pytest.raises(FetchError, match="declares 1025 bytes, over 1024"):
        fetcher.fetch_json(idp.base + "/over-cap")


# ----- faults below HTTP: nothing listening, nothing answering, no such name ------------------------


def test_connection_refused_then_the_server_comes_back(idp: IdentityProvider, signer: KeyPair) -> None:
    # A bound socket that does not listen: connecting to its port is refused, deterministically.
    port_holder = socket.socket()
    port_holder.bind(("127.0.0.1", 0))
    port = port_holder.getsockname()[1]
    uri = f"http://127.0.0.1:{port}/keys"
    clock = ManualClock()
    verifier = make_verifier(idp, clock, jwks_uri=uri)
    cache = cache_of(verifier)
    token = signer.sign(claims(idp.issuer))
    try:
        unavailable(verifier, token)
        assert cache.key_set is None
        assert cache.last_error == f"GET {uri} failed: NewConnectionError"

        # The server comes back on the same port; after the retry window one fetch succeeds.
        served: list[bytes] = []
        port_holder.listen(4)
        body = json.dumps(jwks(signer)).encode()

        def serve_once() -> None:
            connection, _ = port_holder.accept()
            with connection:
                served.append(connection.recv(65536))
                connection.sendall(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                    b"Content-Length: %d\r\nConnection: close\r\n\r\n%s" % (len(body), body)
                )

        server = threading.Thread(target=serve_once, daemon=True)
        server.start()
        clock.advance(11)
        assert verifier.verify(token).key.kid == signer.kid
        server.join(10)
        assert len(served) == 1 and served[0].startswith(b"GET /keys HTTP/1.1\r\n")
        assert cache.generation == 1
    finally:
        port_holder.close()


def test_connection_that_accepts_and_never_answers(idp: IdentityProvider, signer: KeyPair) -> None:
    # listen() without accept(): the kernel completes the handshake, then nothing ever comes.
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)
    uri = f"http://127.0.0.1:{silent.getsockname()[1]}/keys"
    clock = ManualClock()
    verifier = make_verifier(idp, clock, jwks_uri=uri)
    cache = cache_of(verifier)
    try:
        unavailable(verifier, signer.sign(claims(idp.issuer)))
        assert cache.key_set is None
        assert cache.last_error == f"GET {uri} took longer than {TIMEOUT} s"
        silent.setblocking(False)
        connections = []
        while True:
            try:
                connections.append(silent.accept()[0])
            except BlockingIOError:
                break
        assert len(connections) == 1
        for connection in connections:
            connection.close()
    finally:
        silent.close()


def test_dns_failure(idp: IdentityProvider, signer: KeyPair) -> None:
    uri = "https://nonexistent.invalid/keys"
    clock = ManualClock()
    verifier = make_verifier(idp, clock, jwks_uri=uri)
    cache = cache_of(verifier)
    token = signer.sign(claims(idp.issuer))
    unavailable(verifier, token)
    assert cache.key_set is None
    assert cache.last_error == f"GET {uri} failed: NameResolutionError"
    assert idp.jwks_fetches == 0


def test_discovery_failure_is_unavailable_and_asks_for_no_keys(idp: IdentityProvider, signer: KeyPair) -> None:
    idp.publish(signer)
    idp.behaviour[idp.discovery_path] = lambda handler: answer_500(handler, threading.Event(), "") or True
    env = env_for(idp, HTTP_TIMEOUT_SECONDS=str(TIMEOUT))
    clock = ManualClock()
    verifier = build_verifier(load_settings(env), monotonic=clock)
    token = signer.sign(claims(idp.issuer))
    unavailable(verifier, token)
    assert idp.counts[idp.discovery_path] == 1
    assert idp.jwks_fetches == 0
    del idp.behaviour[idp.discovery_path]
    clock.advance(11)
    assert verifier.verify(token).key.kid == signer.kid
    assert (idp.counts[idp.discovery_path], idp.jwks_fetches) == (2, 1)


# ----- proxies ------------------------------------------------------------------------------------


@pytest.fixture
def proxy() -> Iterator[IdentityProvider]:
    """A second loopback server standing in for a forward proxy: it records absolute URIs."""
    provider = IdentityProvider()
    yield provider
    stop_quickly(provider)


@pytest.mark.parametrize("variable", ["HTTP_PROXY", "http_proxy"])
def test_http_proxy_is_honoured(
    monkeypatch: pytest.MonkeyPatch,
    idp: IdentityProvider,
    proxy: IdentityProvider,
    signer: KeyPair,
    variable: str,
) -> None:
    idp.publish(signer)
    proxy.documents[idp.jwks_uri] = jwks(signer)
    fetcher = UrllibFetcher(TIMEOUT, TIMEOUT, MAX_BYTES)
    # Read per request: the same fetcher goes direct, then through the proxy once it is set.
    assert fetcher.fetch_json(idp.jwks_uri) == jwks(signer)
    assert (idp.jwks_fetches, sum(proxy.counts.values())) == (1, 0)
    monkeypatch.setenv(variable, proxy.base)
    assert fetcher.fetch_json(idp.jwks_uri) == jwks(signer)
    assert idp.jwks_fetches == 1
    assert dict(proxy.counts) == {idp.jwks_uri: 1}
    # And through the verifier.
    verifier = make_verifier(idp, ManualClock())
    assert verifier.verify(signer.sign(claims(idp.issuer))).key.kid == signer.kid
    assert dict(proxy.counts) == {idp.jwks_uri: 2}
    assert idp.jwks_fetches == 1


@pytest.mark.parametrize("no_proxy", ["127.0.0.1", "localhost,127.0.0.1", "*"])
def test_no_proxy_bypasses_the_proxy(
    monkeypatch: pytest.MonkeyPatch, idp: IdentityProvider, proxy: IdentityProvider, signer: KeyPair, no_proxy: str
) -> None:
    idp.publish(signer)
    proxy.documents[idp.jwks_uri] = jwks(signer)
    monkeypatch.setenv("HTTP_PROXY", proxy.base)
    monkeypatch.setenv("NO_PROXY", no_proxy)
    verifier = make_verifier(idp, ManualClock())
    assert verifier.verify(signer.sign(claims(idp.issuer))).key.kid == signer.kid
    assert idp.jwks_fetches == 1
    assert sum(proxy.counts.values()) == 0


class ConnectRecorder:
    """A loopback forward proxy that records CONNECT requests and refuses them with 403."""

    def __init__(self) -> None:
        self.requests: list[str] = []
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(8)
        self.base = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            try:
                connection, _ = self.listener.accept()
            except OSError:
                return
            with connection:
                connection.settimeout(10)
                data = b""
                while b"\r\n\r\n" not in data:
                    chunk = connection.recv(4096)
                    if not chunk:
                        break
                    data += chunk
                self.requests.append(data.split(b"\r\n", 1)[0].decode())
                connection.sendall(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")

    def close(self) -> None:
        self.listener.close()


@pytest.fixture
def connect_proxy() -> Iterator[ConnectRecorder]:
    recorder = ConnectRecorder()
    yield recorder
    recorder.close()


def test_https_proxy_is_honoured_and_no_proxy_bypasses_it(
    monkeypatch: pytest.MonkeyPatch, connect_proxy: ConnectRecorder
) -> None:
    url = "https://keys.nonexistent.invalid/discovery/keys"
    fetcher = UrllibFetcher(TIMEOUT, TIMEOUT, MAX_BYTES)
    monkeypatch.setenv("HTTPS_PROXY", connect_proxy.base)
    # Through the proxy, the name is the proxy's to resolve: we only ask it for a tunnel.
    with pytest.raises(FetchError, match="failed: ProxyError"):
        fetcher.fetch_json(url)
    assert len(connect_proxy.requests) == 1
    assert connect_proxy.requests[0].startswith("CONNECT keys.nonexistent.invalid:443 HTTP/1.")
    # NO_PROXY (a domain suffix here) sends the request direct, where the name does not resolve.
    monkeypatch.setenv("NO_PROXY", ".invalid")
    with pytest.raises(FetchError, match="failed: NameResolutionError"):
        fetcher.fetch_json(url)
    assert len(connect_proxy.requests) == 1


def test_https_proxy_is_not_used_for_http(
    monkeypatch: pytest.MonkeyPatch, idp: IdentityProvider, connect_proxy: ConnectRecorder, signer: KeyPair
) -> None:
    idp.publish(signer)
    monkeypatch.setenv("HTTPS_PROXY", connect_proxy.base)
    fetcher = UrllibFetcher(TIMEOUT, TIMEOUT, MAX_BYTES)
    assert fetcher.fetch_json(idp.jwks_uri) == jwks(signer)
    assert connect_proxy.requests == []
    assert idp.jwks_fetches == 1


# ----- TLS: the production path goes through the same deadline-enforcing connections -------------


def _tls_files(tmp_path: Any) -> tuple[str, str]:
    """A self-signed certificate for 127.0.0.1 (written as PEM) and its private key."""
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.x509.oid import NameOID

    private = rsa_pair("tls", slot=0).private
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(private.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
        .sign(private, hashes.SHA256())
    )
    cert_file = tmp_path / "cert.pem"
    key_file = tmp_path / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        private.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return str(cert_file), str(key_file)


def test_https_fetch_and_its_deadline(
    monkeypatch: pytest.MonkeyPatch, idp: IdentityProvider, stop: threading.Event, signer: KeyPair, tmp_path: Any
) -> None:
    import ssl
    from http.server import ThreadingHTTPServer

    cert_file, key_file = _tls_files(tmp_path)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)
    # The same handler (and request counts) as the plain loopback issuer, behind TLS.
    tls = ThreadingHTTPServer(("127.0.0.1", 0), idp.server.RequestHandlerClass)
    tls.daemon_threads = True
    tls.socket = context.wrap_socket(tls.socket, server_side=True)
    thread = threading.Thread(target=tls.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    monkeypatch.setenv("SSL_CERT_FILE", cert_file)  # trust this certificate, as a CA bundle would
    base = f"https://127.0.0.1:{tls.server_address[1]}"
    try:
        idp.publish(signer)
        fetcher = UrllibFetcher(TIMEOUT, TIMEOUT, MAX_BYTES)
        assert fetcher.fetch_json(base + idp.jwks_path) == jwks(signer)
        idp.behaviour["/slow"] = lambda handler: answer_trickling_headers(handler, stop, base) or True
        with pytest.raises(FetchError, match=f"took longer than {TIMEOUT} s"):
            fetcher.fetch_json(base + "/slow")
        assert fetcher.fetch_json(base + idp.jwks_path) == jwks(signer)
        assert (idp.jwks_fetches, idp.counts["/slow"]) == (2, 1)
    finally:
        stop.set()
        tls.shutdown()
        tls.server_close()
