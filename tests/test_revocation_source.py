"""The list over loopback HTTP: ETag and 304, outages, garbage, oversized and slow answers, policies."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler

import pytest

from jwt_authorizer.config import load_settings
from jwt_authorizer.exceptions import RevocationUnavailable
from jwt_authorizer.factory import build_revocations, build_verifier, prefetch_all
from jwt_authorizer.revocation_source import RevocationCache
from revocation_helpers import Events, ListServer, entry
from support import IdentityProvider, ManualClock, answer_with, env_for, rsa_pair, stop_quickly

OID = "7d1c2c4a-5b6e-4f70-8a9b-0c1d2e3f4a5b"


@pytest.fixture
def server(idp: IdentityProvider) -> Iterator[ListServer]:
    lists = ListServer(idp)
    lists.publish(entry("subject", OID, id="first"))
    yield lists


def cache_for(idp: IdentityProvider, url: str, clock: ManualClock, events: Events, **env: str) -> RevocationCache:
    settings = load_settings(env_for(idp, REVOCATION_URL=url, **env))
    cache = build_revocations(settings, listener=events, monotonic=clock)
    assert cache is not None
    return cache


def ids(cache: RevocationCache) -> list[str]:
    current = cache.current()
    assert current is not None
    return [e.id for e in current.entries]


def test_unchanged_list_costs_one_conditional_request_per_interval(idp: IdentityProvider, server: ListServer) -> None:
    clock, events = ManualClock(), Events()
    cache = cache_for(idp, server.url, clock, events)  # REVOCATION_REFRESH_SECONDS defaults to 30
    assert cache.prefetch()
    first = cache.current()
    assert server.statuses == [200] and server.conditional == [None]
    for _ in range(29):
        clock.advance(1)
        assert cache.current() is first
    assert server.requests == 1  # within the interval no request at all
    clock.advance(1.5)
    assert cache.current() is first  # the same compiled list, nothing re-parsed
    assert server.statuses == [200, 304]
    assert server.conditional[-1] == server.etag
    assert events.count("revocation_updated") == 1
    assert events.count("revocation_fetch") == 2

    server.publish(entry("subject", OID, id="first"), entry("tenant", "t-2", id="second"))
    clock.advance(10)
    assert ids(cache) == ["first"]  # not yet: the interval is not over
    clock.advance(21)
    assert ids(cache) == ["first", "second"]
    assert server.statuses == [200, 304, 200]
    assert events.last("revocation_updated") == {
        "source": server.url,
        "entries": 2,
        "etag": server.etag,
    }


def test_a_server_without_etags_is_polled_plainly_and_an_identical_body_changes_nothing(
    idp: IdentityProvider, server: ListServer
) -> None:
    server.etags = False
    clock, events = ManualClock(), Events()
    cache = cache_for(idp, server.url, clock, events, REVOCATION_REFRESH_SECONDS="5")
    first = cache.current()
    clock.advance(6)
    assert cache.current() is first
    assert server.conditional == [None, None]
    assert events.count("revocation_updated") == 1


@pytest.mark.parametrize(
    ("fault", "message"),
    [
        (answer_with(503, b"maintenance"), "answered HTTP 503"),
        (answer_with(302, b""), "answered HTTP 302"),  # never followed: the list comes from the configured URL
        (answer_with(200, b"<html>not json</html>"), "not UTF-8 JSON"),
        (answer_with(200, b'{"version": 1, "entries": [{"id": "x"}]}'), "entries[0]: kind None"),
        (answer_with(200, b'{"version": 1}'), "entries must be a list"),
        (answer_with(200, b""), "not UTF-8 JSON"),
    ],
)
def test_a_failed_refresh_keeps_the_last_good_list(
    idp: IdentityProvider, server: ListServer, fault: object, message: str
) -> None:
    clock, events = ManualClock(), Events()
    cache = cache_for(idp, server.url, clock, events)
    first = cache.current()
    assert first is not None
    server.fault = fault  # type: ignore[assignment]
    clock.advance(31)
    assert cache.current() is first  # within the stale window
    failure = events.last("revocation_fetch_failed")
    assert message in failure["error"]
    assert failure["source"] == server.url
    assert failure["list_age"] == 31
    assert failure["entries"] == 1
    assert cache.last_error is not None and message in cache.last_error


def test_outage_retry_window_then_stale_window_then_policy(idp: IdentityProvider, server: ListServer) -> None:
    clock, events = ManualClock(), Events()
    cache = cache_for(idp, server.url, clock, events, REVOCATION_STALE_SECONDS="120", REVOCATION_RETRY_SECONDS="5")
    first = cache.current()
    server.fault = answer_with(500)
    clock.advance(31)
    assert cache.current() is first
    assert server.requests == 2
    for _ in range(4):
        clock.advance(1)
        assert cache.current() is first
    assert server.requests == 2  # the retry window: an outage does not cost every request a fetch
    clock.advance(1.5)
    cache.current()
    assert server.requests == 3
    clock.advance(120)  # 30 + 120 s since the source last confirmed the list: over the stale window
    with pytest.raises(RevocationUnavailable, match="last confirmed 156 s ago"):
        cache.current()
    assert events.count("revocation_fetch_failed") == 3

    server.fault = None  # the source is back: the next attempt after the retry window heals it
    clock.advance(5)
    assert cache.current() is first
    assert cache.last_error is None


def test_open_stale_policy_keeps_deciding_with_the_last_list(idp: IdentityProvider, server: ListServer) -> None:
    clock, events = ManualClock(), Events()
    cache = cache_for(idp, server.url, clock, events, REVOCATION_STALE_SECONDS="0", REVOCATION_STALE_POLICY="open")
    first = cache.current()
    server.fault = answer_with(500)
    clock.advance(10_000)
    assert cache.current() is first


def test_cold_start_without_a_list_closed_by_default_or_open(idp: IdentityProvider, server: ListServer) -> None:
    server.fault = answer_with(503)
    clock, events = ManualClock(), Events()
    closed = cache_for(idp, server.url, clock, events)
    assert closed.prefetch() is False
    with pytest.raises(RevocationUnavailable, match="no revocation list has been loaded"):
        closed.current()
    opened = cache_for(idp, server.url, clock, events, REVOCATION_COLD_START_POLICY="open")
    assert opened.current() is None
    assert events.count("revocation_unchecked") == 1
    server.fault = None
    clock.advance(5)  # the retry window
    assert ids(opened) == ["first"]


def test_oversized_lists_are_refused(idp: IdentityProvider, server: ListServer) -> None:
    big = [entry("token", f"jti-{i}", id=f"t{i}") for i in range(40)]
    server.publish(*big)
    clock, events = ManualClock(), Events()
    cache = cache_for(idp, server.url, clock, events, HTTP_MAX_BYTES="2048")
    assert cache.prefetch() is False
    assert "declares" in events.last("revocation_fetch_failed")["error"]

    def undeclared(handler: BaseHTTPRequestHandler) -> bool:
        handler.send_response(200)
        handler.send_header("Connection", "close")
        handler.end_headers()
        handler.wfile.write(server.body)
        return True

    server.fault = undeclared  # no Content-Length: the cap applies while reading
    clock.advance(5)
    with pytest.raises(RevocationUnavailable):
        cache.current()
    assert "more than 2048 bytes" in events.last("revocation_fetch_failed")["error"]


def test_a_slow_answer_is_cut_at_the_deadline(idp: IdentityProvider, server: ListServer) -> None:
    def trickle(handler: BaseHTTPRequestHandler) -> bool:
        handler.send_response(200)
        handler.send_header("Content-Length", "1000")
        handler.end_headers()
        for _ in range(200):  # one byte every 50 ms: each read is quick, the whole would take 10 s
            try:
                handler.wfile.write(b" ")
                handler.wfile.flush()
            except OSError:
                return True
            time.sleep(0.05)
        return True

    clock, events = ManualClock(), Events()
    cache = cache_for(idp, server.url, clock, events, HTTP_TIMEOUT_SECONDS="0.3")
    first = cache.current()
    server.fault = trickle
    clock.advance(31)
    assert cache.current() is first
    assert "took longer than 0.3 s" in events.last("revocation_fetch_failed")["error"]


def test_an_unreachable_source_is_an_outage_and_urls_are_logged_without_credentials(
    idp: IdentityProvider, server: ListServer
) -> None:
    secret_url = server.url.replace("http://", "http://operator:s3cret@") + "?sig=TOPSECRET"
    clock, events = ManualClock(), Events()
    cache = cache_for(idp, secret_url, clock, events)
    first = cache.current()
    assert first is not None

    def hang_up(handler: BaseHTTPRequestHandler) -> bool:
        handler.close_connection = True
        handler.connection.shutdown(socket.SHUT_RDWR)  # no status line at all
        return True

    server.fault = hang_up
    clock.advance(31)
    assert cache.current() is first
    failure = events.last("revocation_fetch_failed")
    assert failure["source"] == server.url.replace("http://", "http://***@") + "?***"  # as the key set's
    assert "failed" in failure["error"]

    stop_quickly(idp)  # and a port nobody listens on: a cold start finds no list
    gone = cache_for(idp, secret_url, clock, events)
    assert gone.prefetch() is False
    assert "failed" in events.last("revocation_fetch_failed")["error"]
    text = repr(events.seen) + str(cache.last_error) + str(gone.last_error)
    assert "s3cret" not in text and "TOPSECRET" not in text and "operator" not in text


def test_single_flight_one_request_for_a_burst(idp: IdentityProvider, server: ListServer) -> None:
    release = threading.Event()

    def slow(handler: BaseHTTPRequestHandler) -> bool:
        release.wait(5)
        return False  # then answer normally

    server.fault = slow
    clock, events = ManualClock(), Events()
    cache = cache_for(idp, server.url, clock, events)
    results: list[object] = []

    def call() -> None:
        results.append(cache.current())

    threads = [threading.Thread(target=call) for _ in range(8)]
    for thread in threads:
        thread.start()
    while server.conditional == []:
        time.sleep(0.01)
    release.set()
    for thread in threads:
        thread.join(10)
    assert server.requests == 1
    assert len(results) == 8 and all(result is results[0] for result in results)
    assert results[0] is not None


def test_the_cold_start_fetches_the_list_and_the_key_set_at_once(idp: IdentityProvider, server: ListServer) -> None:
    """Each server waits until the other request has arrived: answered at once only if both are in flight."""
    idp.publish(rsa_pair("key-1", slot=0))
    keys_asked, list_asked = threading.Event(), threading.Event()
    overlapped: list[str] = []

    def keys(handler: BaseHTTPRequestHandler) -> bool:
        keys_asked.set()
        if list_asked.wait(5):
            overlapped.append("keys")
        return False  # then the key set

    def listing(handler: BaseHTTPRequestHandler) -> bool:
        list_asked.set()
        if keys_asked.wait(5):
            overlapped.append("list")
        return False  # then the list

    idp.behaviour[idp.jwks_path] = keys
    server.fault = listing
    settings = load_settings(env_for(idp, REVOCATION_URL=server.url, JWKS_URI=idp.jwks_uri, HTTP_TIMEOUT_SECONDS="8"))
    revocations = build_revocations(settings)
    verifier = build_verifier(settings, revocations=revocations)
    assert prefetch_all(verifier, timeout=10, revocations=revocations) == {verifier.issuers[0].settings.label: True}
    assert sorted(overlapped) == ["keys", "list"]
    assert revocations is not None and revocations.revocations is not None
    assert [e.id for e in revocations.revocations.entries] == ["first"]
