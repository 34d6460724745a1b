"""The cache of verified tokens is exactly as strict as verification."""

from __future__ import annotations

from jwt_authorizer.config import load_settings
from jwt_authorizer.decisions import CachedDecision, DecisionCache
from jwt_authorizer.factory import build_verifier
from jwt_authorizer.routes import ALLOW_ALL
from jwt_authorizer.verifier import Verifier
from support import IdentityProvider, KeyPair, ManualClock, claims, env_for, rsa_pair


def setup(idp: IdentityProvider, clock: ManualClock, **env: str) -> Verifier:
    return build_verifier(load_settings(env_for(idp, **env)), monotonic=clock)


def remember(cache: DecisionCache, verifier: Verifier, token: str) -> CachedDecision:
    parsed = verifier.parse(token)
    issuer = verifier.select(parsed)
    verified = issuer.verify(parsed, verifier.now())
    entry = CachedDecision(
        issuer, verified, issuer.keys.generation, float(verified.claims["exp"]), "p", ALLOW_ALL, {}, ""
    )
    cache.put(token, entry)
    return entry


def test_hit_until_exp_then_gone(idp: IdentityProvider, signer: KeyPair) -> None:
    idp.publish(signer)
    clock = ManualClock()
    verifier = setup(idp, clock)
    cache = DecisionCache(8)
    token = signer.sign(claims(idp.issuer, lifetime=300))
    entry = remember(cache, verifier, token)
    assert cache.get(token, entry.expires_at - 1) is entry
    assert cache.get(token, entry.expires_at) is None
    assert len(cache) == 0


def test_dropped_when_the_key_leaves_the_key_set(idp: IdentityProvider, signer: KeyPair) -> None:
    idp.publish(signer)
    clock = ManualClock()
    verifier = setup(idp, clock, JWKS_MAX_AGE_SECONDS="60")
    cache = DecisionCache(8)
    token = signer.sign(claims(idp.issuer))
    entry = remember(cache, verifier, token)
    now = entry.expires_at - 200
    # Past the key set's max age the entry is not trusted until the keys are refreshed.
    clock.advance(61)
    assert cache.get(token, now) is None
    other = rsa_pair("other", slot=1)
    idp.publish(other)  # the signing key is rotated out
    verifier.issuers[0].keys.get("other")  # any full-path lookup refreshes
    assert cache.get(token, now) is None
    assert len(cache) == 0


def test_survives_a_refresh_that_keeps_the_key(idp: IdentityProvider, signer: KeyPair) -> None:
    idp.publish(signer)
    clock = ManualClock()
    verifier = setup(idp, clock, JWKS_MAX_AGE_SECONDS="60")
    cache = DecisionCache(8)
    token = signer.sign(claims(idp.issuer))
    entry = remember(cache, verifier, token)
    clock.advance(61)
    verifier.issuers[0].keys.get(signer.kid)  # refresh: same key published
    assert idp.jwks_fetches == 2
    assert cache.get(token, entry.expires_at - 100) is entry


def test_bounded_oldest_first(idp: IdentityProvider, signer: KeyPair) -> None:
    idp.publish(signer)
    verifier = setup(idp, ManualClock())
    cache = DecisionCache(2)
    tokens = [signer.sign(claims(idp.issuer, sub=f"u{i}")) for i in range(3)]
    entries = [remember(cache, verifier, t) for t in tokens]
    now = entries[0].expires_at - 100
    assert cache.get(tokens[0], now) is None
    assert cache.get(tokens[1], now) is entries[1]
    assert cache.get(tokens[2], now) is entries[2]
    disabled = DecisionCache(0)
    remember(disabled, verifier, tokens[0])
    assert len(disabled) == 0
