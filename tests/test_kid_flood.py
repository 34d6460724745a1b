"""Unknown-``kid`` floods and cold-start storms: what they cost the identity provider.

An attacker needs no key to send tokens with made-up ``kid``s, and an unknown ``kid`` is also what a
real key rotation looks like, so the cache refetches for it, but at most once per penalty window
(``JWKS_PENALTY_SECONDS``, default 60 s). These tests count real requests to a loopback key server
and move time with a manual clock, so a simulated hour runs in a fraction of a second.

The storm calculation (``storm_requests`` and ``steady_rate`` below) is what docs/security-notes.md
quotes for Entra ID; ``test_storm_matches_the_calculation`` measures it with real concurrent
"containers" so the formula cannot drift from the code.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from appload import cold_start
from jwt_authorizer.config import load_settings
from jwt_authorizer.exceptions import Reason, TokenRejected
from jwt_authorizer.factory import build_verifier
from jwt_authorizer.verifier import Verifier
from support import (
    IdentityProvider,
    ManualClock,
    Outcome,
    claims,
    compose,
    env_for,
    outcome_of,
    preserved_environ,
    quick_provider,
    rest_token_event,
    rsa_pair,
    stop_quickly,
)

GENUINE = rsa_pair("genuine-rsa", slot=0)
PENALTY = 60
MAX_AGE = 3600
RETRY = 10


@pytest.fixture
def server() -> Iterator[IdentityProvider]:
    provider = quick_provider()
    provider.publish(GENUINE)
    yield provider
    stop_quickly(provider)


def random_kid_token(issuer: str, kid: str | None = None) -> str:
    """An unsigned token naming a made-up kid: free to mint, and the kid is looked up first."""
    header = {"alg": "RS256", "typ": "JWT", "kid": kid or uuid.uuid4().hex}
    return compose(header, claims(issuer), b"\x00" * 256)


def engine(
    server: IdentityProvider, clock: ManualClock | None = None, fetch_log: list[float] | None = None, **env: str
) -> Verifier:
    def listener(event: str, **fields: Any) -> None:
        if event == "fetch" and fetch_log is not None and clock is not None:
            fetch_log.append(clock.now)

    settings = load_settings(env_for(server, **env))
    if clock is None:
        return build_verifier(settings)
    return build_verifier(settings, monotonic=clock, listener=listener)


def reason_of(verifier: Verifier, token: str) -> Reason:
    with pytest.raises(TokenRejected) as info:
        verifier.verify(token)
    return info.value.reason


# ----- the flood -----------------------------------------------------------------------------------


def test_an_hour_of_random_kids_costs_one_fetch_per_penalty_window(server: IdentityProvider) -> None:
    """Three random kids every five seconds for a simulated hour, genuine traffic in between."""
    clock = ManualClock()
    fetched_at: list[float] = []
    verifier = engine(server, clock, fetched_at)
    genuine = GENUINE.sign(claims(server.issuer, lifetime=7200))
    start = clock.now
    for step in range(3600 // 5):
        for _ in range(3):
            assert reason_of(verifier, random_kid_token(server.issuer)) == Reason.UNKNOWN_KEY
        if step % 2 == 0:
            assert verifier.verify(genuine).key.kid == GENUINE.kid
        clock.advance(5)
    assert fetched_at == [start + PENALTY * window for window in range(3600 // PENALTY)]
    assert server.jwks_fetches == 60
    assert server.counts[server.discovery_path] == 1  # the jwks_uri is remembered


def test_a_burst_of_two_thousand_kids_costs_one_fetch(server: IdentityProvider) -> None:
    clock = ManualClock()
    verifier = engine(server, clock)
    for _ in range(2_000):
        assert reason_of(verifier, random_kid_token(server.issuer)) == Reason.UNKNOWN_KEY
    assert server.jwks_fetches == 1


def test_a_rotation_during_a_flood_waits_at_most_one_penalty_window(server: IdentityProvider) -> None:
    """The price of the protection: a genuinely new kid that arrives inside an open window is
    refused until the window closes, then found by the next refetch."""
    clock = ManualClock()
    verifier = engine(server, clock)
    assert reason_of(verifier, random_kid_token(server.issuer)) == Reason.UNKNOWN_KEY
    rotated = rsa_pair("rotated", slot=1)
    server.publish(GENUINE, rotated)
    token = rotated.sign(claims(server.issuer))
    clock.advance(PENALTY - 1)
    assert reason_of(verifier, token) == Reason.UNKNOWN_KEY
    assert server.jwks_fetches == 1
    clock.advance(1)
    assert verifier.verify(token).key.kid == "rotated"
    assert server.jwks_fetches == 2


def test_without_a_flood_a_rotated_kid_is_found_at_once(server: IdentityProvider) -> None:
    clock = ManualClock()
    verifier = engine(server, clock)
    verifier.verify(GENUINE.sign(claims(server.issuer)))
    rotated = rsa_pair("rotated", slot=1)
    server.publish(GENUINE, rotated)
    assert verifier.verify(rotated.sign(claims(server.issuer))).key.kid == "rotated"
    assert server.jwks_fetches == 2


def test_penalty_zero_removes_the_protection(server: IdentityProvider) -> None:
    """Why SECURITY.md says never to set JWKS_PENALTY_SECONDS=0: every unknown kid is a fetch."""
    clock = ManualClock()
    verifier = engine(server, clock, JWKS_PENALTY_SECONDS="0")
    for _ in range(25):
        assert reason_of(verifier, random_kid_token(server.issuer)) == Reason.UNKNOWN_KEY
    assert server.jwks_fetches == 25


def test_concurrent_unknown_kids_share_one_fetch(server: IdentityProvider) -> None:
    """32 threads, 32 different unknown kids, one slow key server: one request, then one per window."""
    clock = ManualClock()
    verifier = engine(server, clock)

    def slow(handler: Any) -> bool:
        time.sleep(0.2)
        return False  # then answer normally

    server.behaviour[server.jwks_path] = slow

    def burst() -> list[Reason]:
        barrier = threading.Barrier(32)
        reasons: list[Reason] = []

        def one() -> None:
            barrier.wait()
            try:
                verifier.verify(random_kid_token(server.issuer))
            except TokenRejected as exc:
                reasons.append(exc.reason)

        threads = [threading.Thread(target=one) for _ in range(32)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return reasons

    assert burst() == [Reason.UNKNOWN_KEY] * 32
    assert server.jwks_fetches == 1
    assert burst() == [Reason.UNKNOWN_KEY] * 32
    assert server.jwks_fetches == 1
    clock.advance(PENALTY)
    assert burst() == [Reason.UNKNOWN_KEY] * 32
    assert server.jwks_fetches == 2


def test_flood_through_the_handler(server: IdentityProvider) -> None:
    """The deployed shape: prefetch at cold start, then a flood, then genuine traffic."""
    with preserved_environ():
        app = cold_start(env_for(server, JWKS_PREFETCH="true"))
    assert (server.counts[server.discovery_path], server.jwks_fetches) == (1, 1)
    for _ in range(300):
        assert outcome_of(app, rest_token_event(random_kid_token(server.issuer))) == Outcome(401, "unknown_key")
    # The first unknown kid refetched (it might have been a rotation); the window covered the rest.
    assert (server.counts[server.discovery_path], server.jwks_fetches) == (1, 2)
    assert outcome_of(app, rest_token_event(GENUINE.sign(claims(server.issuer)))) == Outcome(200, "granted")
    assert server.jwks_fetches == 2


# ----- the cold-start storm ------------------------------------------------------------------------


def storm_requests(containers: int, *, discovery: bool = True, flooded: bool = False) -> int:
    """Worst-case key-source GETs when ``containers`` execution environments start at once.

    Each Lambda execution environment is its own process with its own cache, and serves one request
    at a time, so N concurrent cold starts are N caches. Each one fetches the discovery document
    once (never again: the jwks_uri is remembered) unless JWKS_URI is set, and the key set once. If
    an attacker's unknown kid reaches it after that first fetch, it refetches once and opens its
    penalty window: at most one more.
    """
    per_container = (1 if discovery else 0) + 1 + (1 if flooded else 0)
    return containers * per_container


def steady_rate(containers: int, *, flooded: bool = False, outage: bool = False) -> float:
    """Worst-case key-source GETs per second once the containers are warm.

    Normal traffic: one refresh per JWKS_MAX_AGE_SECONDS per container. Under a kid flood on every
    container: one per JWKS_PENALTY_SECONDS (each of those refreshes the set, so the max-age refresh
    never comes on top). While the key source fails: one attempt per JWKS_RETRY_SECONDS.
    """
    if outage:
        return containers / RETRY
    return containers / (PENALTY if flooded else MAX_AGE)


@pytest.mark.parametrize("discovery", [True, False], ids=["discovery", "jwks-uri"])
@pytest.mark.parametrize("flooded", [False, True], ids=["quiet", "flooded"])
def test_storm_matches_the_calculation(server: IdentityProvider, discovery: bool, flooded: bool) -> None:
    """N containers start together (prefetch, as the function does by default), each serves a
    genuine token and, when flooded, an attacker's unknown kid; the server counts the requests."""
    containers = 16
    env = {} if discovery else {"JWKS_URI": server.jwks_uri}
    barrier = threading.Barrier(containers)
    errors: list[BaseException] = []
    genuine = GENUINE.sign(claims(server.issuer))

    def container() -> None:
        try:
            # A fresh process: its own fetcher, key cache and clock.
            verifier = build_verifier(load_settings(env_for(server, **env)))
            barrier.wait()
            for issuer in verifier.issuers:
                assert issuer.keys.prefetch()
            verifier.verify(genuine)
            if flooded:
                for _ in range(50):
                    assert reason_of(verifier, random_kid_token(server.issuer)) == Reason.UNKNOWN_KEY
                verifier.verify(genuine)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=container) for _ in range(containers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    measured = server.counts[server.discovery_path] + server.jwks_fetches
    assert measured == storm_requests(containers, discovery=discovery, flooded=flooded)


def test_the_numbers_quoted_for_entra() -> None:
    """docs/security-notes.md, "Cold-start storm": 1,000 concurrent environments (the default
    regional concurrency quota), Lambda's scaling rate of 1,000 new environments per 10 s."""
    assert storm_requests(1000) == 2000
    assert storm_requests(1000, flooded=True) == 3000
    assert storm_requests(1000, discovery=False, flooded=True) == 2000
    # Spread over the >= 10 s Lambda needs to create 1,000 environments: at most 300 GET/s.
    assert storm_requests(1000, flooded=True) / 10 == 300
    assert round(steady_rate(1000), 2) == 0.28
    assert round(steady_rate(1000, flooded=True), 1) == 16.7
    assert steady_rate(1000, outage=True) == 100
