"""The revocation list: what it says, how it is validated, and how a token is matched against it.

A list is a JSON document (docs/revocation.md has the format and an example). Each entry names one
identifier of a *kind* — a subject, a client, a tenant, a token or a session — and every claim that
carries that kind of identifier is compared with it, so one entry for a user covers both Entra's
``oid`` and ``sub``. An entry may be limited to one issuer and to tokens issued before a moment,
and it always expires, which keeps the list small: an entry is only needed while the tokens it
stops can still be valid.

The list is validated as a whole: one bad entry rejects the document, and the authorizer keeps the
last good one. Skipping the bad entry instead would silently drop a revocation someone meant.

At load time the entries are compiled into one set of all values and one dictionary per claim, so
checking a token costs one set test over the claims the list uses (a few at most), whatever the
list's length; only a token that carries a listed value is looked up claim by claim.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from .exceptions import TokenRevokedError
from .timefmt import LAST_MOMENT, instant, iso_moment

FORMAT_VERSION = 1
MAX_ENTRIES = 50_000
_MAX_ID = 128
_MAX_VALUE = 1024
_MAX_REASON = 500
_MAX_TEXT = 256

# The claims that carry each kind of identifier, Entra's and the OAuth/OIDC standard ones.
KINDS: dict[str, tuple[str, ...]] = {
    "subject": ("oid", "sub"),
    "client": ("azp", "appid", "client_id"),
    "tenant": ("tid",),
    "token": ("jti", "uti"),
    "session": ("sid",),
}
_ENTRY_KEYS = frozenset(
    {"id", "kind", "value", "issuer", "issued_before", "expires", "reason", "created", "created_by", "comment"}
)
_LIST_KEYS = frozenset({"version", "entries", "updated", "updated_by", "comment"})
# Entra's object, tenant and application ids are GUIDs, written in lower case in tokens; other issuers
# may write them in upper case, and an operator may paste either. An entry's GUID therefore matches a
# claim in lower or upper case (and as written), at the price of two more dictionary keys per entry.
GUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


class InvalidRevocationList(ValueError):
    """The document is not a revocation list this authorizer can apply; the message says where."""


def parse_moment(value: Any, where: str) -> float:
    """Unix seconds (a number) or an ISO 8601 date-time with a time zone, as a float.

    Between 1970 and the year 9999, both ways: the list's moments are compared with unix times.
    """
    if isinstance(value, bool):
        raise InvalidRevocationList(f"{where}: {value!r} is not a moment")
    if isinstance(value, int | float):
        try:
            number = float(value)
        except OverflowError:
            number = math.inf
    elif isinstance(value, str):
        try:
            number = iso_moment(value, f"{where}: {value!r}")
        except ValueError as exc:
            raise InvalidRevocationList(str(exc)) from None
    else:
        raise InvalidRevocationList(f"{where}: give unix seconds or an ISO 8601 date-time, not {type(value).__name__}")
    if not 0 <= number <= LAST_MOMENT:  # NaN fails this too
        raise InvalidRevocationList(f"{where}: {value!r} is not a moment between 1970 and the year 9999")
    return number


# A moment the way lists written by the CLI spell it (``2026-05-01T10:00:00Z``): the log lines' form.
iso = instant


def _text(entry: Mapping[str, Any], name: str, where: str, limit: int, *, required: bool) -> str | None:
    value = entry.get(name)
    if value is None:
        if required:
            raise InvalidRevocationList(f"{where}: {name} is missing")
        return None
    if not isinstance(value, str) or not value.strip():
        raise InvalidRevocationList(f"{where}: {name} must be a non-empty string")
    if len(value) > limit:
        raise InvalidRevocationList(f"{where}: {name} is longer than {limit} characters")
    return value


@dataclass(frozen=True, slots=True)
class Entry:
    """One revocation: tokens whose claims of ``kind`` carry ``value`` are refused until ``expires``."""

    id: str
    kind: str
    value: str
    expires: float
    reason: str
    issuer: str | None = None
    issued_before: float | None = None
    created: float | None = None
    created_by: str | None = None
    comment: str | None = None

    @property
    def claims(self) -> tuple[str, ...]:
        return KINDS[self.kind]

    def active(self, now: float) -> bool:
        return now < self.expires

    def applies(self, claims: Mapping[str, Any], now: float) -> bool:
        """Whether this entry refuses a token with these claims (its identifier already matched).

        A token without a usable ``iat`` under an "issued before" entry is refused: nothing proves
        it was issued after the revocation.
        """
        if now >= self.expires:
            return False
        if self.issuer is not None and claims.get("iss") != self.issuer:
            return False
        if self.issued_before is not None:
            iat = claims.get("iat")
            if isinstance(iat, int | float) and not isinstance(iat, bool) and iat >= self.issued_before:
                return False
        return True

    def describe(self) -> str:
        """``subject 1234 (tokens issued before 2026-05-01T10:00:00Z) of issuer X``: no reason, no dates."""
        text = f"{self.kind} {self.value}"
        if self.issued_before is not None:
            text += f" (tokens issued before {iso(self.issued_before)})"
        if self.issuer is not None:
            text += f" of issuer {self.issuer}"
        return text

    def refusal(self, claims: Mapping[str, Any]) -> TokenRevokedError:
        """The rejection the engine raises for a token this entry covers."""
        matched = next((name for name in self.claims if _same(claims.get(name), self.value)), self.claims[0])
        reason = self.reason if len(self.reason) <= 200 else self.reason[:200] + "..."
        return TokenRevokedError(
            f"the token is revoked by entry {self.id} ({self.describe()}): {reason}",
            entry_id=self.id,
            actual=f"{matched}={claims.get(matched)}",
            expected=f"not revoked (entry expires {iso(self.expires)})",
        )

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id, "kind": self.kind, "value": self.value}
        if self.issuer is not None:
            out["issuer"] = self.issuer
        if self.issued_before is not None:
            out["issued_before"] = iso(self.issued_before)
        out["expires"] = iso(self.expires)
        out["reason"] = self.reason
        if self.created is not None:
            out["created"] = iso(self.created)
        if self.created_by is not None:
            out["created_by"] = self.created_by
        if self.comment is not None:
            out["comment"] = self.comment
        return out


def _same(claim: Any, value: str) -> bool:
    if not isinstance(claim, str):
        return False
    return claim == value or (GUID.fullmatch(value) is not None and claim in {value.lower(), value.upper()})


def parse_entry(raw: Any, where: str) -> Entry:
    if not isinstance(raw, dict):
        raise InvalidRevocationList(f"{where} is not a JSON object")
    unknown = sorted(set(raw) - _ENTRY_KEYS)
    if unknown:
        raise InvalidRevocationList(f"{where}: unknown key(s) {unknown}; use {sorted(_ENTRY_KEYS)}")
    entry_id = _text(raw, "id", where, _MAX_ID, required=True)
    kind = raw.get("kind")
    if not isinstance(kind, str) or kind not in KINDS:  # a list or an object is not even hashable
        raise InvalidRevocationList(f"{where}: kind {kind!r} is not one of {', '.join(KINDS)}")
    value = _text(raw, "value", where, _MAX_VALUE, required=True)
    reason = _text(raw, "reason", where, _MAX_REASON, required=True)
    assert entry_id is not None and value is not None and reason is not None  # noqa: S101 - required above
    if value != value.strip():
        raise InvalidRevocationList(f"{where}: value has leading or trailing spaces, which no claim carries")
    if "expires" not in raw:
        raise InvalidRevocationList(f"{where}: expires is missing (every entry expires; see docs/revocation.md)")
    issued_before = raw.get("issued_before")
    return Entry(
        id=entry_id,
        kind=kind,
        value=value,
        expires=parse_moment(raw["expires"], f"{where}.expires"),
        reason=reason,
        issuer=_text(raw, "issuer", where, _MAX_VALUE, required=False),
        issued_before=None if issued_before is None else parse_moment(issued_before, f"{where}.issued_before"),
        created=None if raw.get("created") is None else parse_moment(raw["created"], f"{where}.created"),
        created_by=_text(raw, "created_by", where, _MAX_TEXT, required=False),
        comment=_text(raw, "comment", where, _MAX_REASON, required=False),
    )


@dataclass(frozen=True, slots=True)
class RevocationList:
    """A validated list, compiled for matching; immutable, so a refresh swaps it whole."""

    entries: tuple[Entry, ...]
    updated: float | None = None
    updated_by: str | None = None
    # (claim, {value: entries}) for each claim some entry uses; GUIDs also in lower and upper case.
    _tables: tuple[tuple[str, dict[str, tuple[Entry, ...]]], ...] = field(default=(), repr=False, compare=False)
    # Every value any table holds, and the claims with a table: one C-level test settles the usual miss.
    _values: frozenset[str] = field(default=frozenset(), repr=False, compare=False)
    _names: tuple[str, ...] = field(default=(), repr=False, compare=False)

    @classmethod
    def of(
        cls, entries: Iterable[Entry], *, updated: float | None = None, updated_by: str | None = None
    ) -> RevocationList:
        entries = tuple(entries)
        seen: set[str] = set()
        for entry in entries:
            if entry.id in seen:
                raise InvalidRevocationList(f"entry id {entry.id!r} is used twice; ids must be unique")
            seen.add(entry.id)
        tables: dict[str, dict[str, list[Entry]]] = {}
        for entry in entries:
            # A GUID is keyed as written and in lower and upper case, so matching stays exact lookups.
            keys = (
                {entry.value, entry.value.lower(), entry.value.upper()}
                if GUID.fullmatch(entry.value)
                else {entry.value}
            )
            for claim in entry.claims:
                table = tables.setdefault(claim, {})
                for key in keys:
                    table.setdefault(key, []).append(entry)
        compiled = tuple((claim, {k: tuple(v) for k, v in table.items()}) for claim, table in tables.items())
        values = frozenset(key for table in tables.values() for key in table)
        return cls(entries, updated, updated_by, compiled, values, tuple(tables))

    def __len__(self) -> int:
        return len(self.entries)

    def match(self, claims: Mapping[str, Any], now: float) -> Entry | None:
        """The first entry that refuses these claims at ``now``, or ``None``."""
        try:
            if self._values.isdisjoint(map(claims.get, self._names)):
                return None  # no claim carries any value of the list: the usual case, a few C-level lookups
        except TypeError:
            pass  # a claim holds an unhashable value (a list): look claim by claim
        get = claims.get
        for claim, table in self._tables:
            value = get(claim)
            if value.__class__ is str:  # other types never match (and a list is not even hashable)
                hits = table.get(value)
                if hits is not None:
                    for entry in hits:
                        if entry.applies(claims, now):
                            return entry
        return None

    def find(self, entry_id: str) -> Entry | None:
        return next((entry for entry in self.entries if entry.id == entry_id), None)

    def active(self, now: float) -> tuple[Entry, ...]:
        return tuple(entry for entry in self.entries if entry.active(now))

    def with_entry(self, entry: Entry) -> RevocationList:
        return RevocationList.of((*self.entries, entry), updated=self.updated, updated_by=self.updated_by)

    def without(self, ids: Iterable[str]) -> RevocationList:
        gone = set(ids)
        return RevocationList.of(
            (e for e in self.entries if e.id not in gone), updated=self.updated, updated_by=self.updated_by
        )

    def stamped(self, when: float, by: str | None) -> RevocationList:
        return replace(self, updated=when, updated_by=by)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"version": FORMAT_VERSION}
        if self.updated is not None:
            out["updated"] = iso(self.updated)
        if self.updated_by is not None:
            out["updated_by"] = self.updated_by
        out["entries"] = [entry.to_json() for entry in self.entries]
        return out

    def dumps(self) -> bytes:
        return (json.dumps(self.to_json(), indent=2, ensure_ascii=False) + "\n").encode("utf-8")


EMPTY = RevocationList.of(())


def parse_list(document: Any) -> RevocationList:
    """Validate a parsed JSON document; ``InvalidRevocationList`` names the first problem."""
    if not isinstance(document, dict):
        raise InvalidRevocationList('the list is not a JSON object ({"version": 1, "entries": [...]})')
    unknown = sorted(set(document) - _LIST_KEYS)
    if unknown:
        raise InvalidRevocationList(f"unknown top-level key(s) {unknown}; use {sorted(_LIST_KEYS)}")
    version = document.get("version")
    if version != FORMAT_VERSION or isinstance(version, bool):
        raise InvalidRevocationList(f"version is {version!r}; this authorizer reads version {FORMAT_VERSION}")
    entries = document.get("entries")
    if not isinstance(entries, list):
        raise InvalidRevocationList("entries must be a list")
    if len(entries) > MAX_ENTRIES:
        raise InvalidRevocationList(f"{len(entries)} entries, over {MAX_ENTRIES}; let old entries expire")
    updated = document.get("updated")
    return RevocationList.of(
        (parse_entry(raw, f"entries[{index}]") for index, raw in enumerate(entries)),
        updated=None if updated is None else parse_moment(updated, "updated"),
        updated_by=_text(document, "updated_by", "the list", _MAX_TEXT, required=False),
    )


def loads(data: bytes) -> RevocationList:
    """A list from its bytes (UTF-8 JSON without duplicate members)."""
    try:
        document = json.loads(data.decode("utf-8"), object_pairs_hook=_unique)
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError
        raise InvalidRevocationList(f"not UTF-8 JSON: {exc}") from None
    try:
        return parse_list(document)
    except InvalidRevocationList:
        raise
    except Exception as exc:
        raise InvalidRevocationList(f"the list cannot be read ({type(exc).__name__}: {exc})") from None


def _unique(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """Refuse duplicate member names: two readers of one list must never see two lists."""
    obj = dict(pairs)
    if len(obj) != len(pairs):
        names = [name for name, _ in pairs]
        duplicate = next(name for name in names if names.count(name) > 1)
        raise ValueError(f"duplicate member {duplicate!r}")
    return obj
