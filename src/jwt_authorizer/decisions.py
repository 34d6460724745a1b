"""A bounded cache of verified tokens, keyed by the exact token string.

Clients resend the same access token for its whole lifetime, and API Gateway's own result cache
is per API and per TTL; a warm container sees the same token again and again. Verifying it once
and remembering the outcome takes the RSA check and the parsing off the warm path, under rules
that keep the cache exactly as strict as verification:

* only tokens that passed every check are remembered — never a rejection, since most rejections
  depend on time or on the key set;
* an entry never outlives the token's ``exp`` (without the clock skew);
* an entry is dropped when its key leaves the issuer's key set, and is not used while the key set
  is older than its maximum age (the full path then refreshes the keys first);
* the cache is bounded; the oldest entry goes first.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import TYPE_CHECKING, Any

from .keys import SigningKey
from .routes import Grant
from .verifier import IssuerVerifier, VerifiedToken

if TYPE_CHECKING:
    from .revocation import RevocationList


class CachedDecision:
    """What verification and the route rules concluded about one token.

    ``token_json`` holds the token's log members, encoded once as JSON members without braces
    (``kid``, ``iss``...); ``revocations`` the revocation list this success was last checked
    against (``revoking.RevokingDecisionCache``). ``generation`` and ``revocations`` change.
    """

    __slots__ = (
        "context",
        "expires_at",
        "generation",
        "grant",
        "issuer",
        "principal_id",
        "revocations",
        "token_json",
        "verified",
    )

    def __init__(  # noqa: PLR0917 - positional on the warm path; no dataclass: 1.6 ms to define at cold start
        self,
        issuer: IssuerVerifier,
        verified: VerifiedToken,
        generation: int,
        expires_at: float,
        principal_id: str,
        grant: Grant,
        context: dict[str, Any],
        token_json: str,
        revocations: RevocationList | None = None,
    ) -> None:
        self.issuer = issuer
        self.verified = verified
        self.generation = generation
        self.expires_at = expires_at
        self.principal_id = principal_id
        self.grant = grant
        self.context = context
        self.token_json = token_json
        self.revocations = revocations

    @property
    def key(self) -> SigningKey:
        return self.verified.key


class DecisionCache:
    def __init__(self, max_entries: int) -> None:
        self.max_entries = max_entries
        # OrderedDict: evicting the oldest of a plain dict that churns is O(n) (it skips deleted slots).
        self._entries: OrderedDict[str, CachedDecision] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, token: str, now: float) -> CachedDecision | None:
        entry = self._entries.get(token)
        if entry is None:
            return None
        if now >= entry.expires_at:
            del self._entries[token]
            return None
        keys = entry.issuer.keys
        if keys.generation != entry.generation:
            key_set = keys.key_set
            if key_set is None or key_set.keys.get(entry.key.kid) != entry.key:
                del self._entries[token]  # the key was rotated out or replaced
                return None
            entry.generation = keys.generation
        age = keys.fetched_age()
        if age is None or age >= keys.max_age:
            return None  # let the full path refresh the key set before trusting it again
        return entry

    def put(self, token: str, entry: CachedDecision) -> None:
        if self.max_entries <= 0:
            return
        if len(self._entries) >= self.max_entries and token not in self._entries:
            self._entries.popitem(last=False)
        self._entries[token] = entry

    def clear(self) -> None:
        self._entries.clear()

    def discard(self, token: str) -> None:
        self._entries.pop(token, None)
