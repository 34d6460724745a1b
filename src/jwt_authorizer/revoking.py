"""The engine's parts that consult the revocation list; used only when a list is configured.

They are subclasses chosen at cold start by ``factory`` and ``Authorizer``, so a function without
a list runs the plain classes and pays nothing at all for the feature.

* ``RevokingIssuerVerifier``: the list is the last step of verification, after the signature and
  every other check, so a forged token is refused as forged and the list cannot be probed with
  tokens nobody signed.
* ``RevokingDecisionCache``: a remembered success is served only if it has been checked against
  the list in force; when a refresh brings a new list, the next hit re-checks the token's claims
  (a few dictionary lookups) and forgets it if it is now revoked, and the full path refuses it.
"""

from __future__ import annotations

from .config import IssuerSettings
from .decisions import CachedDecision, DecisionCache
from .exceptions import RevocationUnavailable
from .jwks import KeyCache
from .revocation_source import RevocationCache
from .token import ParsedToken
from .verifier import IssuerVerifier, VerifiedToken


class RevokingIssuerVerifier(IssuerVerifier):
    def __init__(self, settings: IssuerSettings, keys: KeyCache, revocations: RevocationCache) -> None:
        super().__init__(settings, keys)
        self.revocations = revocations

    def verify(self, parsed: ParsedToken, now: float) -> VerifiedToken:
        verified = IssuerVerifier.verify(self, parsed, now)
        revocations = self.revocations.current()  # RevocationUnavailable (500) by policy
        if revocations is not None:
            entry = revocations.match(verified.claims, now)
            if entry is not None:
                raise entry.refusal(verified.claims)
        return verified


class RevokingDecisionCache(DecisionCache):
    def __init__(self, max_entries: int, revocations: RevocationCache) -> None:
        super().__init__(max_entries)
        self.revocations = revocations

    def get(self, token: str, now: float) -> CachedDecision | None:
        entry = DecisionCache.get(self, token, now)
        if entry is None:
            return None
        try:
            revocations = self.revocations.current()
        except RevocationUnavailable:
            return None  # the full path verifies the token first, then answers 500
        if entry.revocations is not revocations:
            if revocations is not None and revocations.match(entry.verified.claims, now) is not None:
                self.discard(token)
                return None  # the full path refuses it, with the entry named in the log line
            entry.revocations = revocations
        return entry
