"""The revocation list format: validation, matching by kind, scope, time, and compiled lookups."""

from __future__ import annotations

import json
import re
import time
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jwt_authorizer.exceptions import Reason, TokenRevokedError
from jwt_authorizer.revocation import (
    KINDS,
    Entry,
    InvalidRevocationList,
    RevocationList,
    iso,
    loads,
    parse_list,
)
from revocation_helpers import document, entry

NOW = float(int(time.time()))
OID = "7d1c2c4a-5b6e-4f70-8a9b-0c1d2e3f4a5b"
TID = "72f988bf-86f1-41af-91ab-2d7cd011db47"
APP = "6e7bd6d6-1d4f-4e5b-9c4c-2f4bd1a0c0de"
ISS = f"https://login.microsoftonline.com/{TID}/v2.0"


def token_claims(**extra: Any) -> dict[str, Any]:
    """Claims shaped like an Entra v2 delegated access token."""
    claims: dict[str, Any] = {
        "iss": ISS,
        "aud": "api://orders",
        "iat": NOW - 600,
        "exp": NOW + 3000,
        "oid": OID,
        "sub": "pairwise-subject-of-this-app",
        "tid": TID,
        "azp": APP,
        "sid": "0029c6e1-7b4f-4d55-b6e3-1b2f26ed3b3a",
        "uti": "AbCdEfGhIjKlMnOpQrSt",
    }
    claims.update(extra)
    return claims


def compiled(*entries: dict[str, Any]) -> RevocationList:
    return parse_list(document(*entries))


@pytest.mark.parametrize(
    ("kind", "claim", "value"),
    [
        ("subject", "oid", OID),
        ("subject", "sub", "pairwise-subject-of-this-app"),
        ("client", "azp", APP),
        ("client", "appid", "11111111-2222-3333-4444-555555555555"),
        ("client", "client_id", "cognito-app-client"),
        ("tenant", "tid", TID),
        ("token", "jti", "jwt-id-42"),
        ("token", "uti", "AbCdEfGhIjKlMnOpQrSt"),
        ("session", "sid", "0029c6e1-7b4f-4d55-b6e3-1b2f26ed3b3a"),
    ],
)
def test_each_kind_matches_each_of_its_claims(kind: str, claim: str, value: str) -> None:
    assert claim in KINDS[kind]
    revocations = compiled(entry(kind, value, id="e1"))
    claims = token_claims(**{claim: value})
    found = revocations.match(claims, NOW)
    assert found is not None and found.id == "e1"
    # The same identifier in a claim of another kind does not match: a tenant id is not a subject.
    other_kind = next(k for k in KINDS if k != kind)
    assert compiled(entry(other_kind, value)).match({claim: value, "iat": NOW}, NOW) is None


def test_no_entry_no_match_and_other_tokens_unaffected() -> None:
    revocations = compiled(entry("subject", OID), entry("token", "some-other-uti"))
    assert revocations.match(token_claims(), NOW) is not None
    assert revocations.match(token_claims(oid="aaaaaaaa-1111-2222-3333-444444444444"), NOW) is None
    assert parse_list(document()).match(token_claims(), NOW) is None


def test_issuer_scope() -> None:
    revocations = compiled(entry("subject", OID, issuer=ISS))
    assert revocations.match(token_claims(), NOW) is not None
    v1 = f"https://sts.windows.net/{TID}/"
    assert revocations.match(token_claims(iss=v1), NOW) is None  # the exact iss only


def test_issued_before_refuses_old_tokens_only() -> None:
    revoked_at = NOW - 300
    revocations = compiled(entry("subject", OID, issued_before=iso(revoked_at)))
    assert revocations.match(token_claims(iat=revoked_at - 1), NOW) is not None
    assert revocations.match(token_claims(iat=revoked_at), NOW) is None  # issued at T: not before T
    assert revocations.match(token_claims(iat=revoked_at + 60), NOW) is None


def test_issued_before_refuses_a_token_without_iat() -> None:
    revocations = compiled(entry("subject", OID, issued_before=NOW - 300))
    claims = token_claims()
    del claims["iat"]
    found = revocations.match(claims, NOW)
    assert found is not None  # nothing proves it was issued after the revocation


def test_expired_entries_no_longer_match() -> None:
    revocations = compiled(entry("subject", OID, expires=NOW + 10))
    assert revocations.match(token_claims(), NOW + 9) is not None
    assert revocations.match(token_claims(), NOW + 10) is None
    assert revocations.active(NOW + 10) == ()


def test_guids_match_in_any_case_other_values_exactly() -> None:
    assert compiled(entry("subject", OID.upper())).match(token_claims(), NOW) is not None
    assert compiled(entry("subject", OID)).match(token_claims(oid=OID.upper()), NOW) is not None
    assert compiled(entry("subject", "Alice")).match(token_claims(sub="alice"), NOW) is None
    mixed = OID[:4].upper() + OID[4:]
    assert compiled(entry("subject", mixed)).match(token_claims(), NOW) is not None  # as pasted, still found
    assert compiled(entry("subject", "Alice")).match(token_claims(sub="Alice"), NOW) is not None


def test_non_string_claims_never_match() -> None:
    revocations = compiled(entry("token", "42"))
    assert revocations.match(token_claims(jti=42), NOW) is None
    assert revocations.match(token_claims(jti=["42"]), NOW) is None


def test_several_entries_for_one_value_first_applicable_wins() -> None:
    revocations = compiled(
        entry("subject", OID, id="scoped", issuer="https://other.example"),
        entry("subject", OID, id="before", issued_before=NOW - 10_000),
        entry("subject", OID, id="all"),
    )
    found = revocations.match(token_claims(), NOW)
    assert found is not None and found.id == "all"


def test_refusal_names_the_entry_and_is_a_401_reason() -> None:
    revocations = compiled(entry("subject", OID, id="INC-42", reason="laptop stolen"))
    found = revocations.match(token_claims(), NOW)
    assert found is not None
    error = found.refusal(token_claims())
    assert isinstance(error, TokenRevokedError)
    assert error.reason is Reason.REVOKED
    details = error.details()
    assert details["reason"] == "revoked"
    assert details["revocation_entry"] == "INC-42"
    assert "laptop stolen" in details["detail"]
    assert details["actual"] == f"oid={OID}"


def test_round_trip_through_the_written_form() -> None:
    original = compiled(
        entry("subject", OID, id="a", issued_before=iso(NOW), created=iso(NOW), created_by="alice"),
        entry("tenant", TID, id="b", issuer=ISS, comment="partner off-boarded"),
    ).stamped(NOW, "alice")
    again = loads(original.dumps())
    assert again.entries == original.entries
    assert again.updated == NOW and again.updated_by == "alice"
    assert json.loads(original.dumps())["version"] == 1


@pytest.mark.parametrize(
    ("document_", "problem"),
    [
        ([], "not a JSON object"),
        ({"entries": []}, "version"),
        ({"version": 2, "entries": []}, "version"),
        ({"version": True, "entries": []}, "version"),
        ({"version": 1, "entries": {}}, "entries must be a list"),
        ({"version": 1, "entries": [], "extra": 1}, "unknown top-level"),
        ({"version": 1, "entries": ["x"]}, "entries[0] is not a JSON object"),
        (document(entry("user", OID)), "kind 'user'"),
        (document({**entry("subject", OID), "isued_before": NOW}), "unknown key"),
        (document({k: v for k, v in entry("subject", OID).items() if k != "expires"}), "expires is missing"),
        (document({k: v for k, v in entry("subject", OID).items() if k != "reason"}), "reason is missing"),
        (document({k: v for k, v in entry("subject", OID).items() if k != "id"}), "id is missing"),
        (document(entry("subject", "")), "value must be a non-empty string"),
        (document(entry("subject", " padded ")), "leading or trailing spaces"),
        (document(entry("subject", OID, reason=7)), "reason must be"),
        (document({**entry("subject", OID), "expires": "tomorrow"}), "not an ISO 8601"),
        (document({**entry("subject", OID), "expires": "2026-05-01T10:00:00"}), "no time zone"),
        (document({**entry("subject", OID), "expires": True}), "not a moment"),
        (document({**entry("subject", OID), "expires": float("nan")}), "not a moment"),
        (document({**entry("subject", OID), "issued_before": [1]}), "unix seconds or an ISO"),
        (document(entry("subject", OID, id="x"), entry("tenant", TID, id="x")), "used twice"),
        (document(entry("subject", "x" * 2000)), "longer than"),
        (document({**entry("subject", OID), "kind": ["subject"]}), "kind ['subject'] is not one of"),
        (document({**entry("subject", OID), "kind": {"a": 1}}), "is not one of"),
        (document({**entry("subject", OID), "expires": 1e20}), "between 1970 and the year 9999"),
        (document({**entry("subject", OID), "expires": 10**400}), "between 1970 and the year 9999"),
        (document({**entry("subject", OID), "issued_before": "1969-12-31T00:00:00Z"}), "between 1970"),
        (document({**entry("subject", OID), "expires": -1}), "between 1970"),
    ],
)
def test_invalid_documents_are_refused_whole(document_: Any, problem: str) -> None:
    with pytest.raises(InvalidRevocationList, match=re.escape(problem)):
        parse_list(document_)


def test_bytes_that_are_not_a_list() -> None:
    for data, problem in [
        (b"\xff\xfe", "not UTF-8 JSON"),
        (b"{not json", "not UTF-8 JSON"),
        (b'{"version": 1, "version": 1, "entries": []}', "duplicate member 'version'"),
        (b"[" * 100_000, "not UTF-8 JSON"),
    ]:
        with pytest.raises(InvalidRevocationList, match=re.escape(problem)):
            loads(data)


# ----- the compiled lookups decide exactly as a scan of the entries would ---------------------------

_VALUES = st.sampled_from([OID, OID.upper(), OID[:4].upper() + OID[4:], TID, APP, "alice", "Alice", "jti-1", "sid-1"])
_ENTRIES = st.builds(
    lambda kind, value, issuer, before, expires: entry(
        kind,
        value,
        id="pending",
        **({"issuer": issuer} if issuer else {}),
        **({"issued_before": NOW + before} if before is not None else {}),
        expires=NOW + expires,
    ),
    st.sampled_from(list(KINDS)),
    _VALUES,
    st.sampled_from([None, ISS, "https://other.example"]),
    st.one_of(st.none(), st.integers(-900, 900)),
    st.integers(-100, 100),
)
_CLAIMS = st.fixed_dictionaries(
    {},
    optional={name: _VALUES for name in ("oid", "sub", "azp", "appid", "client_id", "tid", "jti", "uti", "sid")}
    | {"iss": st.sampled_from([ISS, "https://other.example"]), "iat": st.integers(int(NOW) - 900, int(NOW) + 900)},
)


def _scan(entries: tuple[Entry, ...], claims: dict[str, Any], now: float) -> set[str]:
    def same(claim: Any, value: str) -> bool:
        if not isinstance(claim, str):
            return False
        guid = len(value) == 36 and value.count("-") == 4
        return claim in {value, value.lower(), value.upper()} if guid else claim == value

    return {
        e.id for e in entries if any(same(claims.get(name), e.value) for name in e.claims) and e.applies(claims, now)
    }


@settings(max_examples=300, deadline=None)
@given(st.lists(_ENTRIES, max_size=8), _CLAIMS, st.integers(-50, 50))
def test_lookups_agree_with_a_scan(entries: list[dict[str, Any]], claims: dict[str, Any], offset: int) -> None:
    revocations = parse_list(document(*({**e, "id": f"e{i}"} for i, e in enumerate(entries))))
    now = NOW + offset
    expected = _scan(revocations.entries, claims, now)
    found = revocations.match(claims, now)
    if expected:
        assert found is not None and found.id in expected
    else:
        assert found is None


def test_matching_cost_does_not_grow_with_the_list() -> None:
    # Structural, not timed: a list of 20 000 entries keeps one table per claim it uses.
    many = parse_list(document(*(entry("token", f"jti-{i}", id=f"t{i}") for i in range(20_000))))
    assert [claim for claim, _ in many._tables] == ["jti", "uti"]
    assert many.match(token_claims(jti="jti-19999"), NOW) is not None
    assert many.match(token_claims(jti="jti-x"), time.time()) is None


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=6,
)


@settings(max_examples=400, deadline=None)
@given(
    st.sampled_from(sorted({"id", "kind", "value", "expires", "reason", "issuer", "issued_before", "created"})), _JSON
)
def test_any_json_in_any_field_is_a_list_or_a_refusal(name: str, value: Any) -> None:
    """Whatever a list holds, reading it gives a list or ``InvalidRevocationList``: a failed refresh
    keeps the last good list, where any other exception would answer 500 to every request."""
    raw = {**entry("subject", OID, id="a"), name: value}
    try:
        revocations = loads(json.dumps(document(raw)).encode())
    except InvalidRevocationList:
        return
    revocations.match({"oid": OID, "iat": NOW}, NOW)  # a list that was read can be applied and shown
    for item in revocations.entries:
        item.refusal({"oid": OID})
        item.describe()
        item.to_json()
