"""Revocation through ``lambda_handler``: the kill switch, issued-before, the decision cache, policies."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from types import ModuleType
from typing import Any

import pytest

from jwt_authorizer.config import load_settings
from jwt_authorizer.decisions import DecisionCache
from jwt_authorizer.exceptions import ConfigurationError
from jwt_authorizer.revocation import iso
from jwt_authorizer.revoking import RevokingDecisionCache, RevokingIssuerVerifier
from jwt_authorizer.verifier import IssuerVerifier
from revocation_helpers import ListServer, entry
from support import (
    IdentityProvider,
    KeyPair,
    ManualClock,
    Outcome,
    answer_with,
    claims,
    env_for,
    http_v2_event,
    invoke,
    log_lines_of,
    outcome_of,
    rest_token_event,
    rsa_pair,
    sign_parts,
    websocket_connect_event,
)

ALICE = "0f6c2a4e-1d3b-4c5a-9e8f-7a6b5c4d3e2f"
BOB = "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d"
ALLOW = Outcome(200, "granted")


def token_for(signer: KeyPair, idp: IdentityProvider, oid: str, **extra: Any) -> str:
    return signer.sign(claims(idp.issuer, oid=oid, sub=f"sub-of-{oid[:8]}", **extra))


@pytest.fixture
def lists(idp: IdentityProvider) -> ListServer:
    return ListServer(idp)


@pytest.fixture
def start(load_app: Callable[..., ModuleType], lists: ListServer) -> Callable[..., tuple[ModuleType, ManualClock]]:
    """Cold-start the function with the loopback list; its refresh clock is then moved by hand."""

    def cold(**env: str) -> tuple[ModuleType, ManualClock]:
        app = load_app(REVOCATION_URL=lists.url, **env)
        clock = ManualClock(time.monotonic())
        app.REVOCATIONS.clock = clock
        return app, clock

    return cold


def test_the_list_and_the_key_set_share_one_http_client(
    start: Callable[..., tuple[ModuleType, ManualClock]],
) -> None:
    """Same limits, deadline and connection pool, as docs/revocation.md promises."""

    def key_fetcher(app: ModuleType) -> object:
        provider = app.VERIFIER.issuers[0].keys.provider
        while hasattr(provider, "_provider"):  # the metric (and tracing) wrappers
            provider = provider._provider
        return provider._fetcher

    app, _ = start(JWKS_PREFETCH="off")  # no early fetch: the function builds its own client
    assert app.REVOCATIONS.source._fetcher is key_fetcher(app) is app.FETCHER
    app, _ = start(JWKS_PREFETCH="true")  # with the early key fetch, its client serves the list too
    assert app.EARLY is not None and app.FETCHER is app.EARLY.fetcher_for(app.SETTINGS)
    assert app.REVOCATIONS.source._fetcher is key_fetcher(app) is app.FETCHER


def test_without_a_list_the_plain_engine_runs(load_app: Callable[..., ModuleType]) -> None:
    app = load_app()
    assert app.REVOCATIONS is None
    assert type(app.AUTHORIZER.decisions) is DecisionCache
    assert all(type(issuer) is IssuerVerifier for issuer in app.VERIFIER.issuers)


def test_without_a_list_the_feature_is_not_even_imported(idp: IdentityProvider) -> None:
    script = (
        "import sys, jwt_authorizer.app; print(sorted(m for m in sys.modules if m.startswith('jwt_authorizer.revo')))"
    )
    env = {**os.environ, **env_for(idp), "POWERTOOLS_TRACE_DISABLED": "true"}
    for name in [n for n in env if n.startswith("REVOCATION_")]:
        del env[name]
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_with_a_list_the_checking_parts_run(start: Callable[..., tuple[ModuleType, ManualClock]]) -> None:
    app, _ = start()
    assert type(app.AUTHORIZER.decisions) is RevokingDecisionCache
    assert all(type(issuer) is RevokingIssuerVerifier for issuer in app.VERIFIER.issuers)


def test_kill_switch(
    start: Callable[..., tuple[ModuleType, ManualClock]],
    lists: ListServer,
    signer: KeyPair,
    idp: IdentityProvider,
    capsys: pytest.CaptureFixture[str],
) -> None:
    app, clock = start()
    alice, bob = token_for(signer, idp, ALICE), token_for(signer, idp, BOB)
    for _ in range(3):
        assert outcome_of(app, rest_token_event(alice)) == ALLOW
        assert outcome_of(app, rest_token_event(bob)) == ALLOW
    assert len(app.AUTHORIZER.decisions) == 2  # both remembered
    assert lists.statuses == [200]  # loaded at cold start, not asked again within the interval

    lists.publish(entry("subject", ALICE, id="INC-7", reason="laptop stolen"))
    clock.advance(29)
    # Within the refresh interval the container has not seen the change yet: this is the latency
    # the docs promise (REVOCATION_REFRESH_SECONDS), not a leak.
    assert outcome_of(app, rest_token_event(alice)) == ALLOW
    clock.advance(1.5)
    capsys.readouterr()
    assert outcome_of(app, rest_token_event(alice)) == Outcome(401, "revoked")
    assert lists.statuses == [200, 200]
    assert outcome_of(app, rest_token_event(bob)) == ALLOW  # other tokens unaffected
    assert outcome_of(app, rest_token_event(alice)) == Outcome(401, "revoked")

    lines = log_lines_of(capsys.readouterr().out)
    revoked = [line for line in lines if line.get("reason") == "revoked"]
    assert len(revoked) == 2
    assert revoked[0]["outcome"] == "unauthorized"
    assert revoked[0]["revocation_entry"] == "INC-7"
    assert "laptop stolen" in revoked[0]["detail"]
    assert revoked[0]["sub"] == f"sub-of-{ALICE[:8]}"
    # The refresh rides on the decision that made it (a second EMF directive); the new list has a line.
    directives = revoked[0]["_aws"]["CloudWatchMetrics"]
    metrics = {m["Name"] for directive in directives for m in directive["Metrics"]}
    assert {"Decisions", "RevocationFetches"} <= metrics
    (loaded,) = [line for line in lines if line.get("message") == "revocation list loaded"]
    assert (loaded["entries"], loaded["revocation_event"]) == ("1", "revocation_updated")
    assert loaded["RevocationListUpdates"] == 1

    lists.publish()  # the entry is removed: Alice's token is let in again after the next refresh
    clock.advance(31)
    assert outcome_of(app, rest_token_event(alice)) == ALLOW


def test_a_list_with_an_entry_of_the_wrong_shape_is_a_failed_refresh_not_a_500(
    start: Callable[..., tuple[ModuleType, ManualClock]],
    lists: ListServer,
    signer: KeyPair,
    idp: IdentityProvider,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A kind that is a list (unhashable) or a moment past the year 9999 used to escape the parser:
    every request answered 500 and refetched. Now the last good list stays in force, under the retry
    window, and a new container starts."""
    lists.publish(entry("subject", ALICE, id="INC-7"))
    app, clock = start()
    alice, bob = token_for(signer, idp, ALICE), token_for(signer, idp, BOB)
    assert outcome_of(app, rest_token_event(alice)) == Outcome(401, "revoked")
    for bad in ({**entry("subject", BOB), "kind": ["subject"]}, {**entry("subject", BOB), "expires": 1e20}):
        lists.publish(bad)
        clock.advance(31)
        capsys.readouterr()
        assert outcome_of(app, rest_token_event(alice)) == Outcome(401, "revoked")  # the last good list
        assert outcome_of(app, rest_token_event(bob)) == ALLOW
        fetched = len(lists.statuses)
        assert outcome_of(app, rest_token_event(bob)) == ALLOW
        assert len(lists.statuses) == fetched  # the retry window holds: no fetch per request
        failed = [line for line in log_lines_of(capsys.readouterr().out) if line.get("revocation_event")]
        assert [line["revocation_event"] for line in failed] == ["revocation_fetch_failed"]
    new_app, _ = start()  # a cold start meeting the bad list does not crash either
    assert outcome_of(new_app, rest_token_event(bob)) == Outcome(500, "revocation_unavailable")


def test_a_revoked_token_is_never_answered_from_the_decision_cache(
    start: Callable[..., tuple[ModuleType, ManualClock]], lists: ListServer, signer: KeyPair, idp: IdentityProvider
) -> None:
    app, clock = start(DECISION_CACHE_SIZE="100")
    alice = token_for(signer, idp, ALICE)
    assert outcome_of(app, rest_token_event(alice)) == ALLOW
    assert app.AUTHORIZER.decisions.get(alice, time.time()) is not None
    lists.publish(entry("token", "never-mind", id="other"), entry("client", "ignored"), entry("subject", ALICE))
    clock.advance(31)
    verified: list[str] = []
    verifier = app.VERIFIER.issuers[0]
    original = verifier.verify

    def spy(parsed: Any, now: float) -> Any:
        verified.append(parsed.claims["oid"])
        return original(parsed, now)

    verifier.verify = spy
    for _ in range(3):
        assert outcome_of(app, rest_token_event(alice)) == Outcome(401, "revoked")
    # Each refusal came from the full path (the remembered success was dropped, refusals are not kept).
    assert verified == [ALICE] * 3
    assert app.AUTHORIZER.decisions.get(alice, time.time()) is None


def test_issued_before_refuses_the_old_token_and_lets_a_new_one_in(
    start: Callable[..., tuple[ModuleType, ManualClock]], lists: ListServer, signer: KeyPair, idp: IdentityProvider
) -> None:
    now = int(time.time())
    app, clock = start()
    old = token_for(signer, idp, ALICE, iat=now - 600, nbf=now - 600)
    assert outcome_of(app, rest_token_event(old)) == ALLOW
    # "Revoke sessions" at now - 60: the user signs in again and gets a token issued after that.
    lists.publish(entry("subject", ALICE, id="sessions", issued_before=iso(now - 60)))
    clock.advance(31)
    new = token_for(signer, idp, ALICE, iat=now, nbf=now)
    assert outcome_of(app, rest_token_event(old)) == Outcome(401, "revoked")
    assert outcome_of(app, rest_token_event(new)) == ALLOW
    no_iat = signer.sign({k: v for k, v in claims(idp.issuer, oid=ALICE).items() if k != "iat"})
    assert outcome_of(app, rest_token_event(no_iat)) == Outcome(401, "revoked")


def test_every_kind_and_the_issuer_scope_through_the_handler(
    start: Callable[..., tuple[ModuleType, ManualClock]], lists: ListServer, signer: KeyPair, idp: IdentityProvider
) -> None:
    tenant = "72f988bf-86f1-41af-91ab-2d7cd011db47"
    lists.publish(
        entry("client", "leaky-app", id="c"),
        entry("tenant", tenant, id="t"),
        entry("token", "jti-1", id="j"),
        entry("session", "sid-1", id="s"),
        entry("subject", BOB, id="scoped", issuer="https://another-issuer.example"),
    )
    app, _ = start()

    def outcome(**extra: Any) -> Outcome:
        return outcome_of(app, rest_token_event(signer.sign(claims(idp.issuer, oid=ALICE, **extra))))

    assert outcome(azp="leaky-app") == Outcome(401, "revoked")
    assert outcome(appid="leaky-app") == Outcome(401, "revoked")
    assert outcome(tid=tenant.upper()) == Outcome(401, "revoked")
    assert outcome(jti="jti-1") == Outcome(401, "revoked")
    assert outcome(sid="sid-1") == Outcome(401, "revoked")
    assert outcome(azp="good-app", jti="jti-2", sid="sid-2") == ALLOW
    assert outcome_of(app, rest_token_event(token_for(signer, idp, BOB))) == ALLOW  # scoped to another issuer


def test_http_api_and_websocket_callers_are_refused_too(
    start: Callable[..., tuple[ModuleType, ManualClock]], lists: ListServer, signer: KeyPair, idp: IdentityProvider
) -> None:
    lists.publish(entry("subject", ALICE))
    app, _ = start()
    alice, bob = token_for(signer, idp, ALICE), token_for(signer, idp, BOB)
    assert outcome_of(app, http_v2_event(alice)) == Outcome(401, "revoked")
    assert outcome_of(app, websocket_connect_event(alice)) == Outcome(401, "revoked")
    outcome, response = invoke(app, http_v2_event(bob))
    assert outcome == ALLOW and response is not None and response["isAuthorized"] is True


def test_forged_tokens_are_refused_as_forged_not_as_revoked(
    start: Callable[..., tuple[ModuleType, ManualClock]], lists: ListServer, signer: KeyPair, idp: IdentityProvider
) -> None:
    lists.publish(entry("subject", ALICE))
    app, _ = start()
    payload = claims(idp.issuer, oid=ALICE)
    stranger = rsa_pair(signer.kid, slot=1)  # same kid, another key: the signature does not verify
    forged = sign_parts(stranger, {"alg": "RS256", "kid": signer.kid}, payload)
    assert outcome_of(app, rest_token_event(forged)) == Outcome(401, "bad_signature")
    expired = signer.sign(claims(idp.issuer, oid=ALICE, exp=int(time.time()) - 3600, iat=int(time.time()) - 7200))
    assert outcome_of(app, rest_token_event(expired)) == Outcome(401, "expired")


def test_cold_start_without_a_list_answers_500_by_default(
    start: Callable[..., tuple[ModuleType, ManualClock]],
    lists: ListServer,
    signer: KeyPair,
    idp: IdentityProvider,
    capsys: pytest.CaptureFixture[str],
) -> None:
    lists.fault = answer_with(503)
    app, clock = start()
    alice = token_for(signer, idp, ALICE)
    outcome, response = invoke(app, rest_token_event(alice))
    assert (outcome, response) == (Outcome(500, "revocation_unavailable"), None)  # not 401, nothing cached
    forged = sign_parts(rsa_pair(signer.kid, slot=1), {"alg": "RS256", "kid": signer.kid}, claims(idp.issuer))
    assert outcome_of(app, rest_token_event(forged)) == Outcome(401, "bad_signature")
    lines = log_lines_of(capsys.readouterr().out)
    assert any(
        line.get("message") == "revocation list refresh failed; the last good list stays in force" for line in lines
    )
    lists.fault = None
    clock.advance(5)  # REVOCATION_RETRY_SECONDS
    assert outcome_of(app, rest_token_event(alice)) == ALLOW


def test_cold_start_policy_open_decides_without_a_list_and_counts_it(
    start: Callable[..., tuple[ModuleType, ManualClock]],
    lists: ListServer,
    signer: KeyPair,
    idp: IdentityProvider,
    capsys: pytest.CaptureFixture[str],
) -> None:
    lists.fault = answer_with(503)
    app, clock = start(REVOCATION_COLD_START_POLICY="open")
    alice = token_for(signer, idp, ALICE)
    capsys.readouterr()
    assert outcome_of(app, rest_token_event(alice)) == ALLOW
    line = log_lines_of(capsys.readouterr().out)[-1]
    directives = line["_aws"]["CloudWatchMetrics"]
    assert "RevocationUnchecked" in {m["Name"] for directive in directives for m in directive["Metrics"]}
    # When the list arrives, the success remembered without a list is checked against it.
    lists.fault = None
    lists.publish(entry("subject", ALICE))
    clock.advance(5)
    assert outcome_of(app, rest_token_event(alice)) == Outcome(401, "revoked")


def test_stale_window_then_closed(
    start: Callable[..., tuple[ModuleType, ManualClock]], lists: ListServer, signer: KeyPair, idp: IdentityProvider
) -> None:
    app, clock = start(REVOCATION_STALE_SECONDS="60")
    alice = token_for(signer, idp, ALICE)
    assert outcome_of(app, rest_token_event(alice)) == ALLOW
    lists.fault = answer_with(500)
    clock.advance(31)
    assert outcome_of(app, rest_token_event(alice)) == ALLOW  # the last good list, within the window
    clock.advance(60)
    assert outcome_of(app, rest_token_event(alice)) == Outcome(500, "revocation_unavailable")


# ----- configuration ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({"REVOCATION_URL": "http://lists.example/r.json"}, "REVOCATION_URL"),
        ({"REVOCATION_URL": "https://x.example/r.json", "REVOCATION_S3_BUCKET": "b-1"}, "REVOCATION_URL"),
        ({"REVOCATION_S3_BUCKET": "my-bucket"}, "REVOCATION_S3_KEY"),
        ({"REVOCATION_S3_KEY": "r.json"}, "REVOCATION_S3_BUCKET"),
        ({"REVOCATION_S3_BUCKET": "s3://my-bucket", "REVOCATION_S3_KEY": "r.json"}, "REVOCATION_S3_BUCKET"),
        ({"REVOCATION_STALE_POLICY": "closed"}, "REVOCATION_STALE_POLICY"),
        (
            {"REVOCATION_URL": "https://x.example/r.json", "REVOCATION_STALE_POLICY": "lenient"},
            "REVOCATION_STALE_POLICY",
        ),
        (
            {"REVOCATION_URL": "https://x.example/r.json", "REVOCATION_REFRESH_SECONDS": "0"},
            "REVOCATION_REFRESH_SECONDS",
        ),
        (
            {"REVOCATION_URL": "https://x.example/r.json", "REVOCATION_COLD_START_POLICY": "maybe"},
            "REVOCATION_COLD_START_POLICY",
        ),
    ],
)
def test_configuration_errors_name_the_variable(idp: IdentityProvider, env: dict[str, str], variable: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        load_settings(env_for(idp, **env))
    assert caught.value.variable == variable


def test_configuration_defaults(idp: IdentityProvider) -> None:
    assert load_settings(env_for(idp)).revocation is None
    settings = load_settings(env_for(idp, REVOCATION_S3_BUCKET="my-org-revocations", REVOCATION_S3_KEY="prod/r.json"))
    revocation = settings.revocation
    assert revocation is not None
    assert revocation.source == "s3://my-org-revocations/prod/r.json"
    assert (revocation.refresh, revocation.retry, revocation.stale) == (30, 5, 300)
    assert (revocation.stale_policy, revocation.cold_start_policy) == ("closed", "closed")
    tuned = load_settings(
        env_for(idp, REVOCATION_URL="https://x.example/r", REVOCATION_REFRESH_SECONDS="3", REVOCATION_RETRY_SECONDS="9")
    ).revocation
    assert tuned is not None and (tuned.refresh, tuned.retry) == (3, 3)  # never retried less often than refreshed
