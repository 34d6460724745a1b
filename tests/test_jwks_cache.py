"""The JWKS cache's rules, end to end: real keys, PyJWT tokens, a real loopback identity provider.

Cache time is a manual clock (``build_verifier(..., monotonic=clock)``), so windows of minutes and
hours are crossed without sleeping; the only real waits are a slow server in the single-flight
tests, and no assertion depends on how fast the machine is.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler
from typing import Any

import pytest

from jwt_authorizer.config import load_settings
from jwt_authorizer.exceptions import KeySourceUnavailable, Reason, TokenRejected, UnknownKeyError
from jwt_authorizer.factory import build_verifier
from jwt_authorizer.http import UrllibFetcher
from jwt_authorizer.jwks import KeyCache, RemoteKeyProvider
from jwt_authorizer.verifier import Verifier
from support import IdentityProvider, KeyPair, ManualClock, claims, ec_pair, env_for, rsa_pair, stop_quickly

MAX_AGE = 3600
PENALTY = 60
STALE = 6 * 3600
RETRY = 10


@pytest.fixture
def idp() -> Iterator[IdentityProvider]:
    provider = IdentityProvider()
    yield provider
    stop_quickly(provider)


@pytest.fixture
def key1() -> KeyPair:
    return rsa_pair("key-1", slot=0)


@pytest.fixture
def key2() -> KeyPair:
    return rsa_pair("key-2", slot=1)


class Harness:
    """A verifier wired to the loopback issuer, its cache, its manual clock and its events."""

    def __init__(self, idp: IdentityProvider, **env: str) -> None:
        self.idp = idp
        self.clock = ManualClock()
        self.events: list[str] = []
        self.fields: list[dict[str, Any]] = []
        defaults = {
            "JWKS_URI": idp.jwks_uri,
            "JWKS_MAX_AGE_SECONDS": str(MAX_AGE),
            "JWKS_PENALTY_SECONDS": str(PENALTY),
            "JWKS_STALE_SECONDS": str(STALE),
            "JWKS_RETRY_SECONDS": str(RETRY),
            "HTTP_TIMEOUT_SECONDS": "2",
        }
        settings = load_settings(env_for(idp, **(defaults | env)))
        self.verifier: Verifier = build_verifier(settings, monotonic=self.clock, listener=self.record)
        self.cache: KeyCache = self.verifier.issuers[0].keys

    def record(self, event: str, **fields: Any) -> None:
        """The key cache's listener: event names in order, and the fields of skipped keys."""
        self.events.append(event)
        if fields:
            self.fields.append({"event": event, **fields})

    def token(self, pair: KeyPair, **headers: Any) -> str:
        return pair.sign(claims(self.idp.issuer), **headers)

    def verifies(self, pair: KeyPair) -> bool:
        return self.verifier.verify(self.token(pair)).key.kid == pair.kid

    def reason(self, token: str) -> Reason:
        with pytest.raises(TokenRejected) as info:
            self.verifier.verify(token)
        return info.value.reason

    def unavailable(self, token: str) -> str:
        with pytest.raises(KeySourceUnavailable) as info:
            self.verifier.verify(token)
        assert not isinstance(info.value, TokenRejected)
        assert info.value.reason == Reason.KEY_SOURCE_UNAVAILABLE
        return info.value.message

    @property
    def fetches(self) -> int:
        return self.idp.jwks_fetches

    def kids(self) -> list[str]:
        key_set = self.cache.key_set
        assert key_set is not None
        return sorted(key_set.keys)


def server_error(handler: BaseHTTPRequestHandler) -> bool:
    handler.send_response(500)
    handler.send_header("Content-Length", "0")
    handler.end_headers()
    return True


def slow(seconds: float, then: Callable[[BaseHTTPRequestHandler], bool] | None = None) -> Any:
    """A responder that makes the request wait, then answers normally (or with ``then``)."""

    def respond(handler: BaseHTTPRequestHandler) -> bool:
        threading.Event().wait(seconds)
        return then(handler) if then is not None else False

    return respond


# ----- rotation and removal ---------------------------------------------------------------------


def test_rotation_new_kid_is_fetched_once_and_verifies_at_once(
    idp: IdentityProvider, key1: KeyPair, key2: KeyPair
) -> None:
    idp.publish(key1)
    h = Harness(idp)
    assert h.verifies(key1)
    assert (h.fetches, h.kids()) == (1, ["key-1"])

    idp.publish(key1, key2)  # the issuer rotates: key-2 appears before any token uses it
    h.clock.advance(5)
    assert h.verifies(key2)
    assert (h.fetches, h.kids()) == (2, ["key-1", "key-2"])
    assert h.cache.generation == 2
    for _ in range(5):
        assert h.verifies(key1)
        assert h.verifies(key2)
    assert h.fetches == 2
    assert h.events == ["fetch", "fetch"]


def test_removed_key_stops_verifying_after_max_age(idp: IdentityProvider, key1: KeyPair, key2: KeyPair) -> None:
    idp.publish(key1, key2)
    h = Harness(idp)
    assert h.verifies(key1) and h.verifies(key2)
    idp.publish(key2)  # key-1 is withdrawn (compromised, or rotated out)

    # Until the cached set reaches its max age, nothing is asked and key-1 still verifies.
    h.clock.advance(MAX_AGE - 1)
    assert h.verifies(key1)
    assert h.fetches == 1

    # At max age the set is refreshed before use: key-1 is unknown from then on.
    h.clock.advance(1)
    assert h.reason(h.token(key1)) == Reason.UNKNOWN_KEY
    assert (h.fetches, h.kids()) == (2, ["key-2"])
    assert h.verifies(key2)
    assert h.reason(h.token(key1)) == Reason.UNKNOWN_KEY
    assert h.fetches == 2


# ----- unknown kid floods -----------------------------------------------------------------------


def test_kid_flood_is_bounded_by_the_penalty_window(idp: IdentityProvider, key1: KeyPair, key2: KeyPair) -> None:
    idp.publish(key1)
    h = Harness(idp, ALLOWED_ALGORITHMS="RS256,ES256")
    assert h.verifies(key1)
    attacker = ec_pair("attacker", alg="ES256")  # EC signs fast; each token names a random kid
    flood = [h.token(attacker, kid=uuid.uuid4().hex) for _ in range(300)]

    # The first unknown kid costs one refetch; the rest of the burst costs nothing.
    for token in flood:
        assert h.reason(token) == Reason.UNKNOWN_KEY
    assert h.fetches == 2
    assert h.events.count("penalty_opened") == 1

    # Still inside the window: no request at all, and genuine tokens are unaffected.
    h.clock.advance(PENALTY - 1)
    for token in flood[:100]:
        assert h.reason(token) == Reason.UNKNOWN_KEY
    assert h.verifies(key1)
    assert h.fetches == 2

    # A key rotated in during the window waits for it to pass: the price of the bound.
    idp.publish(key1, key2)
    assert h.reason(h.token(key2)) == Reason.UNKNOWN_KEY
    assert h.fetches == 2

    # Window over: at most one more fetch for the whole next burst, and it brings key-2 in.
    h.clock.advance(1)
    for token in flood[100:]:
        assert h.reason(token) == Reason.UNKNOWN_KEY
    assert h.fetches == 3
    assert h.kids() == ["key-1", "key-2"]
    assert h.verifies(key2)
    assert h.fetches == 3


def test_concurrent_kid_flood_costs_one_fetch(idp: IdentityProvider, key1: KeyPair) -> None:
    idp.publish(key1)
    h = Harness(idp)
    assert h.verifies(key1)
    idp.behaviour[idp.jwks_path] = slow(0.3)
    kids = [uuid.uuid4().hex for _ in range(40)]
    errors: list[BaseException] = []
    start = threading.Barrier(len(kids))

    def look_up(kid: str) -> None:
        start.wait()
        try:
            h.cache.get(kid)
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=look_up, args=(kid,)) for kid in kids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert len(errors) == len(kids)
    assert all(isinstance(error, UnknownKeyError) for error in errors)
    assert h.fetches == 2
    assert h.events.count("fetch") == 2
    assert h.events.count("penalty_opened") == 1


# ----- single flight ----------------------------------------------------------------------------


def run_together(count: int, action: Callable[[], Any]) -> tuple[list[Any], list[BaseException]]:
    results: list[Any] = []
    errors: list[BaseException] = []
    start = threading.Barrier(count)
    lock = threading.Lock()

    def run() -> None:
        start.wait()
        try:
            result = action()
        except BaseException as exc:  # collected, asserted by the caller
            with lock:
                errors.append(exc)
        else:
            with lock:
                results.append(result)

    threads = [threading.Thread(target=run) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert not any(thread.is_alive() for thread in threads)
    return results, errors


def test_single_flight_on_a_cold_cache(idp: IdentityProvider, key1: KeyPair) -> None:
    idp.publish(key1)
    idp.behaviour[idp.jwks_path] = slow(0.5)
    cache = KeyCache(
        RemoteKeyProvider(UrllibFetcher(1.0, 3.0, 256 * 1024), jwks_uri=idp.jwks_uri),
        max_age=MAX_AGE,
        penalty=PENALTY,
        stale=STALE,
        retry=RETRY,
        clock=ManualClock(),
    )
    results, errors = run_together(50, lambda: cache.get("key-1"))
    assert errors == []
    assert len(results) == 50
    assert {key.kid for key in results} == {"key-1"}
    assert len({id(key) for key in results}) == 1  # one fetch, one parsed key, shared by all
    assert idp.jwks_fetches == 1
    assert cache.generation == 1


def test_single_flight_through_the_verifier(idp: IdentityProvider, key1: KeyPair) -> None:
    idp.publish(key1)
    idp.behaviour[idp.jwks_path] = slow(0.5)
    h = Harness(idp)
    token = h.token(key1)
    results, errors = run_together(30, lambda: h.verifier.verify(token))
    assert errors == []
    assert len(results) == 30
    assert h.fetches == 1


def test_single_flight_shares_a_failure_too(idp: IdentityProvider, key1: KeyPair) -> None:
    # Without a retry window, callers queued behind a failing fetch must still not each repeat
    # it: a slow, failing source would otherwise hold every one of them for a timeout in turn.
    idp.publish(key1)
    idp.behaviour[idp.jwks_path] = slow(0.5, server_error)
    h = Harness(idp, JWKS_RETRY_SECONDS="0")
    results, errors = run_together(20, lambda: h.cache.get("key-1"))
    assert results == []
    assert len(errors) == 20
    assert all(isinstance(error, KeySourceUnavailable) for error in errors)
    assert h.fetches == 1
    assert h.events == ["fetch", "fetch_failed"]


# ----- outages ----------------------------------------------------------------------------------


def test_outage_with_a_warm_cache(idp: IdentityProvider, key1: KeyPair) -> None:
    idp.publish(key1)
    h = Harness(idp)
    assert h.verifies(key1)  # t=0, fetch 1
    good = h.cache.key_set
    idp.behaviour[idp.jwks_path] = server_error

    # Past max age, the source fails: the last good set keeps verifying (stale-if-error).
    h.clock.advance(MAX_AGE + 1)
    assert h.verifies(key1)
    assert h.fetches == 2
    assert h.cache.key_set is good
    assert h.events[-3:] == ["fetch", "fetch_failed", "stale_served"]

    # Inside the retry window the source is not asked at all.
    h.clock.advance(RETRY - 1)
    for _ in range(20):
        assert h.verifies(key1)
    assert h.fetches == 2

    # After it, one try per window, still serving stale keys.
    h.clock.advance(2)
    assert h.verifies(key1)
    assert h.fetches == 3

    # Last moment of the stale window (age max_age + stale - 1): still verifying.
    h.clock.now = 1000.0 + MAX_AGE + STALE - 1
    assert h.verifies(key1)
    assert h.fetches == 4

    # Stale window over: cannot decide (500, never a 401), and inside the retry window no request.
    h.clock.advance(1)
    assert "no usable key set" in h.unavailable(h.token(key1))
    assert h.fetches == 4
    h.clock.advance(RETRY)
    h.unavailable(h.token(key1))
    assert h.fetches == 5
    assert h.cache.key_set is good  # kept (and reported) but no longer trusted

    # The server comes back; within the retry window it is still not asked...
    del idp.behaviour[idp.jwks_path]
    h.clock.advance(RETRY - 1)
    h.unavailable(h.token(key1))
    assert h.fetches == 5
    # ...and the next refresh after the window succeeds.
    h.clock.advance(1)
    assert h.verifies(key1)
    assert h.fetches == 6
    assert h.cache.fetched_age() == 0
    assert h.cache.last_error is None
    assert h.cache.generation == 2


def test_unknown_kid_during_an_outage_is_unavailable_not_unknown(
    idp: IdentityProvider, key1: KeyPair, key2: KeyPair
) -> None:
    # A kid we cannot look up may be a genuine rotated key: "cannot decide", not "invalid".
    idp.publish(key1)
    h = Harness(idp)
    assert h.verifies(key1)
    idp.behaviour[idp.jwks_path] = server_error
    h.clock.advance(1)
    assert "key source failed" in h.unavailable(h.token(key2))
    assert h.fetches == 2
    assert h.verifies(key1)  # the fresh set is untouched
    h.unavailable(h.token(key2))  # inside the retry window: no request
    assert h.fetches == 2


def test_cold_cache_and_server_down_is_unavailable(idp: IdentityProvider, key1: KeyPair) -> None:
    idp.publish(key1)
    idp.behaviour[idp.jwks_path] = server_error
    h = Harness(idp)
    message = h.unavailable(h.token(key1))
    assert message == f"no usable key set: GET {idp.jwks_uri} answered HTTP 500"
    assert h.cache.key_set is None
    assert h.cache.generation == 0
    assert h.fetches == 1


def test_cold_cache_and_discovery_down_is_unavailable(idp: IdentityProvider, key1: KeyPair) -> None:
    idp.publish(key1)
    idp.behaviour[idp.discovery_path] = server_error
    clock = ManualClock()
    verifier = build_verifier(load_settings(env_for(idp)), monotonic=clock)
    with pytest.raises(KeySourceUnavailable):
        verifier.verify(key1.sign(claims(idp.issuer)))
    assert (idp.counts[idp.discovery_path], idp.jwks_fetches) == (1, 0)


# ----- a key set without usable keys is a failed fetch -------------------------------------------

UNUSABLE_DOCUMENTS: dict[str, Any] = {
    "empty": {"keys": []},
    "all_unusable": {
        "keys": [
            {"kty": "oct", "kid": "hmac", "k": "c2VjcmV0"},
            {"kty": "RSA", "kid": "enc", "use": "enc", "n": "AQAB", "e": "AQAB"},
            {"kty": "OKP", "kid": "ed", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"},
            "not a key",
        ]
    },
    "not_a_jwks": {"keys": "none"},
    "json_list": [],
}


@pytest.mark.parametrize("name", list(UNUSABLE_DOCUMENTS))
def test_unusable_key_set_keeps_the_old_keys(idp: IdentityProvider, key1: KeyPair, key2: KeyPair, name: str) -> None:
    idp.publish(key1)
    h = Harness(idp)
    assert h.verifies(key1)
    good = h.cache.key_set
    idp.documents[idp.jwks_path] = UNUSABLE_DOCUMENTS[name]

    # A refetch for an unknown kid that brings an unusable set: unavailable, old set kept.
    h.clock.advance(1)
    h.unavailable(h.token(key2))
    assert h.fetches == 2
    assert h.cache.key_set is good
    assert h.cache.generation == 1
    assert h.verifies(key1)

    # The max-age refresh brings it again: still a failure, and key-1 keeps verifying (stale).
    h.clock.advance(MAX_AGE)
    assert h.verifies(key1)
    assert h.fetches == 3
    assert h.cache.key_set is good
    assert h.cache.generation == 1
    assert h.cache.last_error is not None and h.cache.last_error.startswith(idp.jwks_uri)
    assert h.events.count("fetch_failed") == 2


def test_unusable_key_set_on_a_cold_cache_is_unavailable(idp: IdentityProvider, key1: KeyPair) -> None:
    idp.documents[idp.jwks_path] = UNUSABLE_DOCUMENTS["all_unusable"]
    h = Harness(idp)
    message = h.unavailable(h.token(key1))
    assert message.startswith(f"no usable key set: {idp.jwks_uri} holds no usable key (key 0 (kid 'hmac')")
    assert h.cache.key_set is None


# ----- prefetch ---------------------------------------------------------------------------------


def test_prefetch_reports_an_outage_without_raising(idp: IdentityProvider, key1: KeyPair) -> None:
    idp.publish(key1)
    idp.behaviour[idp.jwks_path] = server_error
    h = Harness(idp)
    assert h.cache.prefetch() is False
    assert h.fetches == 1
    assert h.cache.key_set is None
    assert h.cache.prefetch() is False  # inside the retry window: no request
    assert h.fetches == 1

    del idp.behaviour[idp.jwks_path]
    h.clock.advance(RETRY)
    assert h.cache.prefetch() is True
    assert h.fetches == 2
    assert h.kids() == ["key-1"]
    assert h.verifies(key1)
    assert h.fetches == 2  # the token verifies from the prefetched set


def test_prefetch_with_nothing_listening_returns_false() -> None:
    import socket

    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))  # bound, not listening: connections are refused
    try:
        uri = f"http://127.0.0.1:{holder.getsockname()[1]}/keys"
        cache = KeyCache(
            RemoteKeyProvider(UrllibFetcher(0.5, 0.5, 1024), jwks_uri=uri),
            max_age=MAX_AGE,
            penalty=PENALTY,
            stale=STALE,
            retry=RETRY,
            clock=ManualClock(),
        )
        assert cache.prefetch() is False
        assert cache.last_error == f"GET {uri} failed: NewConnectionError"
        assert cache.key_set is None
    finally:
        holder.close()
