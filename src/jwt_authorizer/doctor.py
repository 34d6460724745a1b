"""The token doctor: every check of the engine, one by one, each explained in plain words.

``explain`` runs the verifier's own public steps (``Verifier.parse``/``select`` and the
``IssuerVerifier`` checks) in the engine's order, with the function's configuration. The first
failure is the function's verdict, with the same ``Reason`` code its log line carries; the later
checks still run where their inputs exist, so one run shows every problem a token has. Nothing
here re-implements a check: the doctor only adds explanations (cause and fix) and a few hints the
engine has no need for, such as "this is an ID token".

The report holds the token's header and claims (for display) but never the token itself nor its
signature.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit

from . import constants as c
from . import entra
from .config import IssuerSettings, Settings
from .exceptions import KeySourceUnavailable, Reason, TokenRejected
from .factory import build_verifier
from .http import Fetcher
from .identity import context_of, principal_of
from .keys import SigningKey
from .revocation import iso
from .revocation_source import ListReading
from .token import ParsedToken, parse_token
from .urls import redact_url
from .verifier import IssuerVerifier, Verifier, is_entra_issuer

_STEPS = (
    "format",
    "header",
    "issuer",
    "algorithm",
    "tenant",
    "key",
    "key fit",
    "signature",
    "claim types",
    "token type",
    "lifetime",
    "audience",
    "principal",
)
CONSUMER_TENANT = "9188040d-6c67-4c5b-b112-36a304b66dad"  # personal Microsoft accounts
_ID_TOKEN_CLAIMS = ("nonce", "at_hash", "c_hash")
_USER_CLAIMS = ("preferred_username", "upn", "unique_name", "email", "name")
_ACCESS_CLAIMS = ("scp", "scope", "roles")
_CLIENT_CLAIMS = ("azp", "appid", "client_id")
# The ISSUERS entry key that stands for each single-issuer variable (see issuers.py).
_ENTRY_KEYS = {
    c.ISSUER_ENV: "issuer",
    c.AUDIENCE_ENV: "audience",
    c.ALLOWED_ALGORITHMS_ENV: "algorithms",
    c.ALLOWED_TENANTS_ENV: "allowed_tenants",
    c.CLOCK_SKEW_ENV: "clock_skew",
    c.JWKS_URI_ENV: "jwks_uri",
    c.JWKS_INLINE_ENV: "jwks",
    c.JWKS_FILE_ENV: "jwks_file",
    c.PRINCIPAL_CLAIM_ENV: "principal_claim",
}


class Status(StrEnum):
    PASS = "pass"  # the engine's check passed
    WARN = "warn"  # passed, but worth knowing (or a hint only the doctor gives)
    FAIL = "fail"  # the engine refuses the token here (401)
    ERROR = "error"  # the engine cannot decide here (500): key source down, internal error
    SKIP = "skip"  # could not run: an input it needs is missing


class Verdict(StrEnum):
    ACCEPTED = "accepted"
    REFUSED = "refused"
    UNDECIDED = "undecided"


@dataclass
class Check:
    """One step: what it found and, when it did not pass, the cause and the fix."""

    name: str
    status: Status
    summary: str
    reason: str | None = None
    cause: str | None = None
    fix: str | None = None
    decisive: bool = False  # the first failure: the reason the function logs

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "status": str(self.status),
            "passed": self.status in {Status.PASS, Status.WARN},
            "decisive": self.decisive,
            "reason": self.reason,
            "summary": self.summary,
            "cause": self.cause,
            "fix": self.fix,
        }


@dataclass
class Report:
    """Everything ``explain`` found; ``cli`` renders it as text or JSON."""

    verdict: Verdict
    reason: str | None
    now: float
    header: dict[str, Any] | None
    claims: dict[str, Any] | None
    configuration: dict[str, Any]
    checks: list[Check]
    principal: str | None = None
    context: dict[str, Any] = field(default_factory=dict)

    @property
    def exit_code(self) -> int:
        """0 accepted, 1 refused (401), 3 undecided (the function would answer 500)."""
        return {Verdict.ACCEPTED: 0, Verdict.REFUSED: 1, Verdict.UNDECIDED: 3}[self.verdict]

    @property
    def decisive(self) -> Check | None:
        return next((check for check in self.checks if check.decisive), None)

    def to_dict(self) -> dict[str, Any]:
        return {
            "verdict": str(self.verdict),
            "reason": self.reason,
            "exit_code": self.exit_code,
            "now": self.now,
            "header": self.header,
            "claims": self.claims,
            "configuration": self.configuration,
            "checks": [check.to_dict() for check in self.checks],
            "principal": self.principal,
            "context": self.context,
        }


# ----- small helpers for plain words --------------------------------------------------------------


def duration(seconds: float) -> str:
    """``95 s``, ``12 min 5 s``, ``3 h 12 min``, ``412 d 3 h``: exact to the unit shown."""
    total = int(abs(seconds))
    if total < 60:
        return f"{total} s"
    minutes, secs = divmod(total, 60)
    if minutes < 60:
        return f"{minutes} min {secs} s" if secs else f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h" if hours else f"{days} d"


def _seconds(seconds: float) -> str:
    total = int(abs(seconds))
    return "" if total < 60 else f" ({total} s)"


def exactly(seconds: float) -> str:
    """``duration`` with the exact seconds when it rounds: ``1 min 35 s (95 s)``, ``3 h 12 min (11520 s)``."""
    return duration(seconds) + _seconds(seconds)


def utc(moment: float) -> str:
    try:
        return datetime.fromtimestamp(moment, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    except (OverflowError, OSError, ValueError):
        return "an impossible date"


def relative(moment: float, now: float) -> str:
    delta = moment - now
    if int(delta) == 0:
        return "now"
    return f"in {duration(delta)}" if delta > 0 else f"{duration(delta)} ago"


def _words(values: Iterable[str]) -> str:
    items = list(values)
    return ", ".join(items) if items else "(none)"


def _audiences(claims: dict[str, Any], name: str = "aud") -> list[str]:
    aud = claims.get(name)
    if isinstance(aud, str):
        return [aud]
    if isinstance(aud, list):
        return [a for a in aud if isinstance(a, str)]
    return []


def numeric_date(claims: dict[str, Any], name: str) -> float | None:
    """A NumericDate claim as a finite float; ``None`` when absent or unusable."""
    value = claims.get(name)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        number = float(value)
    except OverflowError:
        return None
    return number if math.isfinite(number) else None


def _is_entra(issuer: object) -> bool:
    return isinstance(issuer, str) and is_entra_issuer(issuer)


def _version(issuer: str) -> str:
    return "v1.0" if entra.is_v1_issuer(issuer) else "v2.0"


def _bare(audience: str) -> str:
    return audience.removeprefix("api://")


def _api_scope_base(settings: IssuerSettings) -> str:
    """The configured audience a client should ask for: the api:// form when there is one."""
    audiences = sorted(settings.audiences)
    api = [a for a in audiences if a.startswith("api://")]
    return (api or audiences or ["api://<client-id>"])[0]


def graph_evidence(header: dict[str, Any], claims: dict[str, Any]) -> list[str]:
    evidence = []
    if "nonce" in header:
        evidence.append("its header carries a nonce")
    graph = [a for a in _audiences(claims) if a in c.GRAPH_AUDIENCES]
    if graph:
        evidence.append(f"its audience is Microsoft Graph ({graph[0]})")
    return evidence


def id_token_evidence(header: dict[str, Any], claims: dict[str, Any]) -> list[str]:
    """Why a token looks like an OpenID Connect ID token; empty when it does not."""
    if str(header.get("typ", "")).lower() in {"at+jwt", "application/at+jwt"}:
        return []  # RFC 9068 says access token in so many words
    if any(name in claims for name in _ACCESS_CLAIMS):
        return []
    markers = [name for name in _ID_TOKEN_CLAIMS if name in claims]
    if markers:
        return [f"it carries {_words(markers)} (claims of ID tokens)", "it has no scp or roles"]
    user = [name for name in _USER_CLAIMS if name in claims]
    if _is_entra(claims.get("iss")) and user and not any(name in claims for name in _CLIENT_CLAIMS):
        return [
            f"it names the user ({_words(user)}) but no client app (azp/appid), which Entra access tokens carry",
            "it has no scp or roles",
        ]
    return []


# ----- the doctor -------------------------------------------------------------------------------


class _Doctor:
    def __init__(self, settings: Settings, verifier: Verifier, revocation: ListReading | None = None) -> None:
        self.settings = settings
        self.verifier = verifier
        self.revocation = revocation
        self.now = verifier.now()
        self.checks: list[Check] = []
        self.header: dict[str, Any] = {}
        self.claims: dict[str, Any] = {}
        self.current: IssuerVerifier | None = None  # the issuer the token names (or the closest)

    @property
    def cfg(self) -> IssuerSettings:
        return self.current.settings if self.current is not None else self.settings.issuer

    def _auds(self) -> list[str]:
        """The token's audiences, read from the claim the issuer is configured to check."""
        return _audiences(self.claims, str(getattr(self.cfg, "audience_claim", "aud")))

    def _var(self, name: str, cfg: IssuerSettings | None = None) -> str:
        """How the user sets ``name``: the variable, or the key of an ``ISSUERS`` entry."""
        cfg = cfg or self.cfg
        if not cfg.name:
            return name
        return f'"{_ENTRY_KEYS.get(name, name.lower())}" of the ISSUERS entry {cfg.name}'

    def _assign(self, name: str, values: Iterable[str], cfg: IssuerSettings | None = None) -> str:
        cfg = cfg or self.cfg
        joined = ",".join(values)
        if not cfg.name:
            return f"{name}={joined}"
        return f'"{_ENTRY_KEYS.get(name, name.lower())}": "{joined}" in the ISSUERS entry {cfg.name}'

    # ----- recording ------------------------------------------------------------------------------

    @property
    def _failed(self) -> bool:
        return any(check.decisive for check in self.checks)

    def _add(self, check: Check) -> Check:
        if check.status in {Status.FAIL, Status.ERROR} and not self._failed:
            check.decisive = True
        self.checks.append(check)
        return check

    def _passed(self, name: str, summary: str) -> None:
        self._add(Check(name, Status.PASS, summary))

    def _skip(self, name: str, why: str) -> None:
        self._add(Check(name, Status.SKIP, f"not checked: {why}"))

    def _rejected(self, name: str, exc: TokenRejected) -> None:
        cause, fix = self._diagnose(exc)
        earlier = next((check for check in self.checks if cause and check.cause == cause), None)
        if earlier is not None:  # one diagnosis (a Graph token, say) found by two checks: say it once
            cause, fix = f"the same as at the {earlier.name} check.", None
        self._add(Check(name, Status.FAIL, exc.message, str(exc.reason), cause, fix))

    def _run(self, name: str, step: Callable[[], str]) -> bool:
        """Run one engine step; its summary on success, its diagnosis on failure."""
        try:
            summary = step()
        except _Warning as exc:
            self._add(Check(name, Status.WARN, str(exc), None, exc.cause, exc.fix))
            return True
        except TokenRejected as exc:
            self._rejected(name, exc)
            return False
        except KeySourceUnavailable as exc:
            self._add(
                Check(
                    name,
                    Status.ERROR,
                    exc.message,
                    str(exc.reason),
                    f"the key source could not be read: {exc.message}. The function answers 500 "
                    "(nothing is cached, the client may retry) instead of refusing the token.",
                    f"check that {self._key_source()} is reachable from where the function runs "
                    f"(HTTPS egress, DNS, proxy), or pin the keys with {c.JWKS_INLINE_ENV} / {c.JWKS_FILE_ENV}.",
                )
            )
            return False
        except Exception as exc:  # the function maps the unexpected to 500 as well
            self._add(Check(name, Status.ERROR, f"internal error: {type(exc).__name__}: {exc}", "internal_error"))
            return False
        self._passed(name, summary)
        return True

    # ----- the steps, in the engine's order -----------------------------------------------------

    def run(self, token: str) -> Report:
        try:
            parsed = parse_token(token, self.verifier.max_token_bytes)
        except TokenRejected as exc:
            self._rejected("format", exc)
            for name in _STEPS[1:]:
                self._skip(name, "the token cannot be decoded")
            return self._report(None)
        self.header, self.claims = parsed.header, parsed.claims
        self._passed("format", "three base64url segments; the header and the payload are JSON objects")
        self._run("header", lambda: self._header(token))
        issuer = self._select(parsed)
        self._checks(parsed, issuer)
        return self._report(parsed)

    def _header(self, token: str) -> str:
        self.verifier.parse(token)
        return f"alg {self.header['alg']}, kid {self.header['kid']}"

    def _select(self, parsed: ParsedToken) -> IssuerVerifier | None:
        def step() -> str:
            self.current = self.verifier.select(parsed)
            iss, tid = self.claims["iss"], self.claims.get("tid")
            where = self._var(c.ISSUER_ENV)
            for pattern in self.current.settings.issuers:
                if entra.is_template(pattern) and entra.match_issuer(pattern, iss, tid):
                    return f"iss {iss} fits the template {pattern} of {where} with tid {tid}"
            return f"iss {iss} is in {where}"

        if not self._run("issuer", step):
            # Later checks still run, for information, against the closest configured issuer.
            self.current = self._closest()
        return self.current

    def _closest(self) -> IssuerVerifier | None:
        """The only issuer; or the one whose Entra tenant this token's other version names; or the
        one on the same host. ``None`` when nothing configured resembles the token's issuer."""
        issuers = self.verifier.issuers
        if len(issuers) == 1:
            return issuers[0]
        iss, tid = self.claims.get("iss"), self.claims.get("tid")
        if not isinstance(iss, str):
            return None
        for candidate in issuers:
            if any(entra.key_may_sign(p, iss, tid) for p in candidate.settings.issuers):
                return candidate
        host = _hostname(iss)
        if host is None:
            return None  # not a URL at all (https://[::1): no issuer's host to compare with
        for candidate in issuers:
            if any(_hostname(entra.expand(p, "t")) == host for p in candidate.settings.issuers):
                return candidate
        return None

    def _checks(self, parsed: ParsedToken, issuer: IssuerVerifier | None) -> None:
        header, claims = self.header, self.claims
        alg, kid, iss = header.get("alg"), header.get("kid"), claims.get("iss")
        if issuer is None:
            for name in _STEPS[3:]:
                if name == "token type":
                    self._run(name, lambda: self._token_hints(None))
                else:
                    self._skip(name, "no configured issuer resembles the token's")
            return

        if isinstance(alg, str):
            self._run("algorithm", lambda: self._algorithm(parsed, issuer))
        else:
            self._skip("algorithm", "the header has no alg")
        self._run("tenant", lambda: self._tenant(issuer))

        key: list[SigningKey] = []
        if isinstance(kid, str) and kid:
            self._run("key", lambda: self._key(issuer, kid, key))
        else:
            self._skip("key", "the header has no kid")
        fits = False
        if key and isinstance(alg, str) and isinstance(iss, str):
            fits = self._run("key fit", lambda: self._key_fit(parsed, issuer, key[0]))
        else:
            self._skip("key fit", "no key was found" if not key else "the token has no usable alg or iss")
        if fits:
            self._run("signature", lambda: self._signature(parsed, issuer, key[0]))
        else:
            self._skip("signature", "no key that fits the token")
        self._run("claim types", lambda: self._claim_types(issuer))
        self._run("token type", lambda: self._token_kind(parsed, issuer))
        self._run("lifetime", lambda: self._lifetime(issuer))
        self._run("audience", lambda: self._audience(issuer))
        if self.revocation is not None:
            self._revocation_check(self.revocation)
        self._run("principal", self._principal)

    def _algorithm(self, parsed: ParsedToken, issuer: IssuerVerifier) -> str:
        issuer.check_algorithm(parsed)
        allowed = _words(sorted(issuer.settings.algorithms))
        return f"{self.header['alg']} is in {self._var(c.ALLOWED_ALGORITHMS_ENV)} ({allowed})"

    def _tenant(self, issuer: IssuerVerifier) -> str:
        issuer.check_tenant(self.claims)
        allowed = issuer.settings.allowed_tenants
        if allowed is None and issuer.settings.any_tenant:
            if any(entra.is_template(p) for p in issuer.settings.issuers):
                raise _Warning(
                    f"{self._var(c.ALLOWED_TENANTS_ENV)} is *: every Entra tenant is accepted, on purpose "
                    f"(tid {self.claims.get('tid')}); any tenant's administrator can grant their users this API's roles"
                )
            return f"{self._var(c.ALLOWED_TENANTS_ENV)} is *: every tenant"
        if allowed is None:
            return f"{self._var(c.ALLOWED_TENANTS_ENV)} is not set: every tenant the issuer setting admits"
        return f"tid {self.claims.get('tid')} is in {self._var(c.ALLOWED_TENANTS_ENV)}"

    def _key(self, issuer: IssuerVerifier, kid: str, out: list[SigningKey]) -> str:
        out.append(issuer.keys.get(kid))
        return f"kid {kid} is in the key set ({self._key_set_words(issuer)})"

    @staticmethod
    def _key_fit(parsed: ParsedToken, issuer: IssuerVerifier, key: SigningKey) -> str:
        issuer.check_key(parsed, key)
        declared = f"declared for {key.alg}" if key.alg else "no alg declared"
        return f"{key.kty} key, {declared}; may sign for this issuer"

    @staticmethod
    def _signature(parsed: ParsedToken, issuer: IssuerVerifier, key: SigningKey) -> str:
        issuer.check_signature(parsed, key)
        return f"{parsed.header['alg']} signature verifies with key {key.kid}"

    def _claim_types(self, issuer: IssuerVerifier) -> str:
        issuer.check_claim_types(self.claims)
        names = [n for n in (*issuer.settings.principal_claims, "scp", "scope", "roles", "groups") if n in self.claims]
        names = list(dict.fromkeys(names))
        if not names:
            return "no principal, scope, role or group claim to check"
        verb = "has the JSON type" if len(names) == 1 else "have the JSON types"
        return f"{_words(names)} {verb} the function relies on"

    def _token_kind(self, parsed: ParsedToken, issuer: IssuerVerifier) -> str:
        issuer.check_token_kind(parsed)
        return self._token_hints(issuer)

    def _lifetime(self, issuer: IssuerVerifier) -> str:
        expires_at = issuer.check_times(self.claims, self.now)
        skew = issuer.settings.clock_skew
        exp = expires_at - skew
        notes = []
        variable = self._var(c.CLOCK_SKEW_ENV)
        if self.now >= exp:
            notes.append(f"it expired {exactly(self.now - exp)} ago, within {variable} ({skew})")
        ahead = {name: m - self.now for name in ("nbf", "iat") if (m := numeric_date(self.claims, name)) is not None}
        ahead = {name: delta for name, delta in ahead.items() if delta > 0}
        if ahead:
            names = " and ".join(ahead)
            notes.append(
                f"the token's clock is {exactly(max(ahead.values()))} ahead of this one ({names}), within "
                f"{variable} ({skew})"
            )
        summary = f"valid until {utc(exp)} ({relative(exp, self.now)})"
        iat = numeric_date(self.claims, "iat")
        if iat is not None and iat <= self.now:
            summary += f"; issued {duration(self.now - iat)} ago"
        if notes:
            # Accepted, but only thanks to the skew allowance: say so as a warning.
            raise _Warning(summary + "; but " + "; ".join(notes))
        return summary

    def _audience(self, issuer: IssuerVerifier) -> str:
        issuer.check_audience(self.claims)
        matched = [a for a in self._auds() if a in issuer.settings.audiences]
        return f"aud {_words(matched)} is in {self._var(c.AUDIENCE_ENV)}"

    def _revocation_check(self, reading: ListReading) -> None:
        """The list, as the function checks it after every other check (docs/revocation.md)."""
        revocations = reading.revocations
        if revocations is None:
            summary = f"the revocation list {reading.source} could not be read: {reading.error}"
            where = f"check that {reading.source} is reachable and valid (jwt-authorizer revoke list --list ...)"
            if reading.cold_start_policy == "open":
                cause = f"{c.REVOCATION_COLD_START_POLICY_ENV} is open: a container without a list decides without it."
                self._add(Check("revocation", Status.WARN, summary, None, cause, where + "."))
                return
            cause = (
                "a container without a usable list answers 500 (nothing is cached, the client may retry), because "
                f"{c.REVOCATION_COLD_START_POLICY_ENV} is closed."
            )
            self._add(
                Check("revocation", Status.ERROR, summary, str(Reason.REVOCATION_UNAVAILABLE), cause, where + ".")
            )
            return
        entry = revocations.match(self.claims, self.now)
        if entry is None:
            active = len(revocations.active(self.now))
            self._passed("revocation", f"no entry of {reading.source} matches ({active} in force)")
            return
        self._rejected("revocation", entry.refusal(self.claims))

    def _why_revoked(self, exc: TokenRejected) -> tuple[str, str]:
        reading = self.revocation
        found = reading.revocations.find(str(getattr(exc, "entry_id", ""))) if reading and reading.revocations else None
        if found is None or reading is None:
            return f"{exc.message}.", "ask whoever maintains the revocation list."
        made = f" It was added {iso(found.created)}" if found.created is not None else ""
        if made and found.created_by:
            made += f" by {found.created_by}"
        cause = (
            f"entry {found.id} of {reading.source} revokes {found.describe()}: {found.reason}.{made}"
            f"{'.' if made else ''} It expires {iso(found.expires)} ({relative(found.expires, self.now)})."
        )
        fix = f"if this is a mistake, remove it: jwt-authorizer revoke remove {found.id} --list {reading.source}"
        if found.issued_before is not None:
            fix += "; otherwise the caller signs in again: a token issued after the revocation is accepted"
        return cause, fix + "."

    def _principal(self) -> str:
        value, name = principal_of(self.claims, self.cfg.principal_claims)
        return f"principalId {value} (from {name})"

    def _token_hints(self, issuer: IssuerVerifier | None) -> str:
        """What kind of token this is, once the engine's own check passed (or could not run).

        The engine refuses ID tokens by their markers (``not_access_token``); what is left here
        are doctor-only hints: a Graph token, or a token that looks like an ID token by the
        doctor's broader heuristics. They warn, never refuse.
        """
        evidence = id_token_evidence(self.header, self.claims)
        graph = graph_evidence(self.header, self.claims)
        explained = {check.reason for check in self.checks if check.cause}
        if graph:
            summary = "a Microsoft Graph token: " + "; ".join(graph)
            if Reason.GRAPH_TOKEN in explained or self._audience_says_graph(issuer):
                raise _Warning(summary + " (see " + ("header" if "nonce" in self.header else "audience") + ")")
            raise _Warning(summary, *self._graph_words(graph))
        if evidence:
            raise _Warning("looks like an ID token", *self._id_token_words(evidence, issuer))
        kinds = [f"{name} {self._claim_words(name)}" for name in _ACCESS_CLAIMS if name in self.claims]
        if kinds:
            return "access token; " + "; ".join(kinds)
        return "access token without scp or roles (app-only, no app roles)"

    def _audience_says_graph(self, issuer: IssuerVerifier | None) -> bool:
        """Will the engine's audience check (a later step) refuse this as a Graph token, and explain it?"""
        if issuer is None:
            return False
        try:
            issuer.check_audience(self.claims)
        except TokenRejected as exc:
            return exc.reason == Reason.GRAPH_TOKEN
        return False

    def _id_token_words(self, evidence: list[str], issuer: IssuerVerifier | None) -> tuple[str, str]:
        aud = _words(self._auds())
        cause = (
            f"this is an ID token, not an access token: {'; '.join(evidence)}. An ID token tells the "
            f"client app who signed in; its aud ({aud}) is the client app itself, so it says nothing "
            "about what may call an API."
        )
        if issuer is not None and any(a in issuer.settings.audiences for a in self._auds()):
            cause += (
                f" Its audience passes only because {self._var(c.AUDIENCE_ENV)} lists that client id (the "
                "client and the API share one app registration); the function refuses it as an ID token."
            )
        return cause, self._id_token_fix()

    def _claim_words(self, name: str) -> str:
        value = self.claims[name]
        if isinstance(value, list):
            return " ".join(str(v) for v in value)
        return str(value)

    # ----- explanations ---------------------------------------------------------------------------

    def _diagnose(self, exc: TokenRejected) -> tuple[str | None, str | None]:
        explain = {
            Reason.MALFORMED_TOKEN: self._why_malformed,
            Reason.TOKEN_TOO_LARGE: self._why_too_large,
            Reason.UNSUPPORTED_CRITICAL_HEADER: self._why_crit,
            Reason.GRAPH_TOKEN: self._why_graph,
            Reason.WRONG_ISSUER: self._why_issuer,
            Reason.UNSUPPORTED_ALGORITHM: self._why_algorithm,
            Reason.TENANT_NOT_ALLOWED: self._why_tenant,
            Reason.UNKNOWN_KEY: self._why_unknown_key,
            Reason.KEY_MISMATCH: self._why_key_mismatch,
            Reason.BAD_SIGNATURE: self._why_signature,
            Reason.EXPIRED: self._why_expired,
            Reason.NOT_YET_VALID: self._why_early,
            Reason.ISSUED_IN_FUTURE: self._why_early,
            Reason.WRONG_AUDIENCE: self._why_audience,
            Reason.MISSING_CLAIM: self._why_missing,
            Reason.INVALID_CLAIM: self._why_invalid,
            Reason.REVOKED: self._why_revoked,
            Reason.NOT_ACCESS_TOKEN: self._why_not_access_token,
            Reason.UNSUPPORTED_TOKEN_TYPE: self._why_token_type,
        }.get(exc.reason)
        if explain is None:
            return exc.message, None
        return explain(exc)

    def _why_malformed(self, exc: TokenRejected) -> tuple[str, str]:
        if exc.expected == "kid":
            return (
                "the header names no key (kid), so the function cannot pick a key from the issuer's key set.",
                "send a token from the configured issuer: its tokens carry a kid in the header.",
            )
        if exc.expected == "alg":
            return ("the header has no alg.", "send a signed JWT from the configured issuer.")
        if exc.actual == "5 segment(s)":
            return (
                "five segments make an encrypted token (JWE): only its recipient can read it, and the "
                "function verifies signed tokens (JWS) only.",
                "turn off token encryption for this API, or send the API's plain access token.",
            )
        if exc.actual == "1 segment(s)":
            return (
                "a single segment is an opaque token, not a JWT: some issuers (personal Microsoft "
                "accounts for Graph, for instance) give out tokens only the resource can read.",
                "request a token for this API's own scope; its issuer then returns a JWT.",
            )
        given = f" (this one: {exc.actual})" if exc.actual is not None else ""
        return (
            f"it is not a JWS in compact form{given}: {exc.message}.",
            "pass the whole token exactly as received (three dot-separated base64url parts), without "
            "quotes or line breaks; 'Bearer ' in front is fine.",
        )

    def _why_too_large(self, exc: TokenRejected) -> tuple[str, str]:
        return (
            f"the token has {exc.actual} characters; MAX_TOKEN_BYTES is {exc.expected}. Entra tokens grow with "
            "group membership (the groups claim).",
            "raise MAX_TOKEN_BYTES (API Gateway itself limits headers to about 10 KB), or configure the app "
            "registration to emit fewer groups (groupMembershipClaims: ApplicationGroup).",
        )

    def _why_crit(self, exc: TokenRejected) -> tuple[str, str]:
        return (
            f"the header lists critical extensions ({exc.actual}) that a verifier must understand or refuse "
            "(RFC 7515 section 4.1.11); this function implements none.",
            "send a token without crit, from the configured issuer.",
        )

    def _graph_words(self, evidence: list[str]) -> tuple[str, str]:
        scopes = self.claims.get("scp")
        notes = ""
        if "nonce" in self.header:
            notes += " With a nonce in the header, the signature covers a hashed nonce that only Graph can check."
        if isinstance(scopes, str) and scopes:
            notes += f" Its scopes ({scopes}) are Graph permissions."
        base = _api_scope_base(self.cfg)
        return (
            f"this is a Microsoft Graph token: {'; '.join(evidence)}. Graph tokens are meant for Graph only, "
            f"never for your API.{notes}",
            "the client asked for a Graph scope (User.Read, https://graph.microsoft.com/.default); it must "
            f"request this API's scope instead: {base}/.default or a scope your API exposes "
            f"(e.g. {base}/access_as_user).",
        )

    def _why_graph(self, exc: TokenRejected) -> tuple[str, str]:
        return self._graph_words(graph_evidence(self.header, self.claims) or ["it is a Graph token"])

    def _why_issuer(self, exc: TokenRejected) -> tuple[str, str]:
        iss = self.claims.get("iss")
        configured = [(v.settings, p) for v in self.verifier.issuers for p in v.settings.issuers]
        patterns = [p for _, p in configured]
        single = len(self.verifier.issuers) == 1 and not self.verifier.issuers[0].settings.name
        setting = f"ISSUER is {_words(patterns)}" if single else f"the configured issuers are {_words(patterns)}"
        if not isinstance(iss, str):
            return (f"{exc.message}. {setting}.", "send a token from a configured issuer.")
        tid = self.claims.get("tid")

        def expanded(pattern: str) -> str:
            return entra.expand(pattern, tid) if isinstance(tid, str) else pattern

        entra_token = _is_entra(iss)
        if graph_evidence(self.header, self.claims):
            return (
                f"the token's iss is {iss}, but {setting}. It is a Microsoft Graph token, and Graph's tokens "
                "follow Graph's own app registration (v1.0, https://sts.windows.net/<tenant>/), not yours.",
                "get a token for this API's scope (see the Graph diagnosis): its issuer then follows your "
                "API's manifest.",
            )
        for cfg, pattern in configured:
            if (
                entra_token
                and _is_entra(expanded(pattern))
                and _version(expanded(pattern)) != _version(iss)
                and entra.key_may_sign(pattern, iss, tid)
            ):
                return self._why_version(iss, pattern, cfg)
        for cfg, pattern in configured:
            if pattern.rstrip("/") == iss.rstrip("/"):
                return (
                    f"the token's iss ({iss}) and the configured {pattern} differ only by a trailing slash; "
                    "issuers are compared exactly, character by character.",
                    f"set {self._assign(c.ISSUER_ENV, [iss], cfg)} (Entra v1 issuers end with '/', v2 issuers "
                    "end with /v2.0).",
                )
        entra_configured = [(cfg, p) for cfg, p in configured if _is_entra(expanded(p))]
        if entra_token and isinstance(tid, str) and entra_configured:
            cfg = entra_configured[0][0]
            return (
                f"the token comes from tenant {tid} ({iss}), but {setting}: the caller signed in to another "
                "tenant, or the client used the wrong authority.",
                "sign in with an account of the configured tenant (client authority "
                "https://login.microsoftonline.com/<tenant-id>); for a multi-tenant API set "
                f"{self._assign(c.ISSUER_ENV, [iss.replace(tid, c.TENANT_PLACEHOLDER)], cfg)} and list the "
                f"tenants in {self._var(c.ALLOWED_TENANTS_ENV, cfg)}.",
            )
        addition = self._assign(c.ISSUER_ENV, [*patterns, iss]) if single else "add an ISSUERS entry for it"
        return (
            f"the token's iss is {iss}, but {setting}. The issuer must match exactly.",
            f"if this issuer is trusted: {addition}; otherwise send a token from a configured issuer.",
        )

    def _why_version(self, iss: str, pattern: str, cfg: IssuerSettings) -> tuple[str, str]:
        addition = iss.replace(str(self.claims.get("tid")), c.TENANT_PLACEHOLDER) if entra.is_template(pattern) else iss
        both = self._assign(c.ISSUER_ENV, [*cfg.issuers, addition], cfg)
        preset = ' (an "entra" preset takes "version": "both")' if cfg.name else ""
        audience = self._var(c.AUDIENCE_ENV, cfg)
        if entra.is_v1_issuer(iss):
            return (
                f"this is an Entra v1.0 token (iss {iss}), but the configured issuer is v2.0 ({pattern}). The "
                "token version follows the API's app registration, not the endpoint the client used: its "
                "manifest's accessTokenAcceptedVersion is null or 1 (api.requestedAccessTokenVersion in the "
                "newer manifest format).",
                "in Entra admin center > App registrations > (your API) > Manifest, set "
                '"accessTokenAcceptedVersion": 2 (or "requestedAccessTokenVersion": 2) and get a new token; '
                f"or accept both versions: {both}{preset}; v1 tokens carry the api://... audience, so list "
                f"both forms in {audience} too.",
            )
        return (
            f"this is an Entra v2.0 token (iss {iss}), but the configured issuer is v1.0 ({pattern}): the "
            "API's manifest has accessTokenAcceptedVersion 2.",
            f"accept v2 tokens: {both}{preset}; v2 tokens carry the bare client id as audience, so list it in "
            f"{audience} too. Or set accessTokenAcceptedVersion back to 1 if v1 is really wanted.",
        )

    def _why_algorithm(self, exc: TokenRejected) -> tuple[str, str]:
        alg = str(exc.actual)
        algorithms = sorted(self.cfg.algorithms)
        cause = f"the token is signed with {alg}; {self._var(c.ALLOWED_ALGORITHMS_ENV)} is {_words(algorithms)}."
        if alg.upper().startswith("HS"):
            cause += (
                f" {alg} uses a shared secret: whoever can check it can forge it, so the function only verifies "
                "signatures made with the issuer's private key."
            )
            return cause, "send a token from the configured issuer (Entra signs with RS256)."
        if alg.lower() == "none":
            return cause + " The token is not signed at all.", "send a signed token from the configured issuer."
        if alg in c.SUPPORTED_ALGORITHMS:
            return (
                cause,
                f"if the issuer really signs with {alg} (its keys declare alg {alg}), allow it: "
                f"{self._assign(c.ALLOWED_ALGORITHMS_ENV, sorted({*algorithms, alg}))}.",
            )
        return (
            cause + f" {alg} is not an algorithm this function supports.",
            f"the issuer must sign with one of {_words(sorted(c.SUPPORTED_ALGORITHMS))}.",
        )

    def _why_tenant(self, exc: TokenRejected) -> tuple[str, str]:
        tid = str(exc.actual)
        allowed = sorted(self.cfg.allowed_tenants or ())
        who = " (personal Microsoft accounts)" if tid == CONSUMER_TENANT else ""
        variable = self._var(c.ALLOWED_TENANTS_ENV)
        return (
            f"the token's tenant, tid {tid}{who}, is not in {variable} ({_words(allowed)}).",
            f"if tenant {tid} should be let in, add it: {self._assign(c.ALLOWED_TENANTS_ENV, [*allowed, tid])}; "
            "otherwise the caller must sign in with an account of an allowed tenant.",
        )

    def _key_source(self) -> str:
        issuer = self.current or self.verifier.issuers[0]
        return issuer.keys.provider.describe()

    def _key_set_words(self, issuer: IssuerVerifier) -> str:
        keys = issuer.keys
        age = keys.fetched_age()
        count = len(keys.key_set) if keys.key_set is not None else 0
        noun = "key" if count == 1 else "keys"
        if issuer.settings.static_keys is not None:
            return f"{count} {noun} pinned in {keys.provider.describe()}"
        fetched = "never fetched" if age is None else f"fetched {duration(age)} ago"
        return f"{count} {noun} from {keys.provider.describe()}, {fetched}"

    def _why_unknown_key(self, exc: TokenRejected) -> tuple[str, str]:
        issuer = self.current or self.verifier.issuers[0]
        kid = str(exc.actual)
        key_set = issuer.keys.key_set
        kids = sorted(key_set.keys) if key_set is not None else []
        cause = f"no key with kid {kid} in the key set: it holds {_words(kids)} ({self._key_set_words(issuer)})."
        skipped = [note for note in (key_set.skipped if key_set else ()) if note.kid == kid]
        if skipped:
            cause += f" The key set does list this kid, but the function skipped it: {skipped[0]}."
        pinned = issuer.settings.static_keys is not None
        iss = self.claims.get("iss")
        fixes = []
        if _is_entra(iss):
            tid = self.claims.get("tid") or "<tenant-id>"
            client = next(
                (_bare(a) for a in _audiences(self.claims) if entra.TENANT_ID.fullmatch(_bare(a))),
                "<application-client-id>",
            )
            if pinned:
                cause += (
                    " The keys are pinned, and Entra rotates its signing keys every few weeks, so a pinned "
                    "set goes stale."
                )
                fixes.append(
                    "let the function find Entra's keys itself: unset "
                    f"{self._var(c.JWKS_INLINE_ENV)} / {self._var(c.JWKS_FILE_ENV)}"
                )
            cause += (
                " Tokens for an app with its own signing key (a claims-mapping policy or a custom signing "
                "certificate) are signed with app-specific keys that Entra publishes only under ?appid=."
            )
            app_keys = f"https://login.microsoftonline.com/{tid}/discovery/v2.0/keys?appid={client}"
            fixes.append(f"for such an app set {self._assign(c.JWKS_URI_ENV, [app_keys])}")
            fixes.append("a token meant for another resource (Graph, another tenant's app) is not for this API")
        elif pinned:
            fixes.append(
                f"the keys are pinned: add the issuer's current public key, or point {self._var(c.JWKS_URI_ENV)} "
                "at its key set"
            )
        else:
            fixes.append(
                "the token was signed by a key this issuer does not publish: a token from another issuer or "
                "environment (a development token against production keys?)"
            )
        return cause, "; ".join(fixes) + "."

    def _why_key_mismatch(self, exc: TokenRejected) -> tuple[str, str]:
        if "another issuer" in exc.message:
            return (
                f"the key's own issuer member names {exc.expected}, not the token's issuer {exc.actual}: "
                "Entra lists which issuers each key may sign for (a personal-account key never signs a "
                "work tenant's token).",
                "send a token from the configured issuer; this one is signed with another issuer's key.",
            )
        return (
            f"{exc.message}: a key is used only with the algorithm and key type it was made for (RFC 8725).",
            f"the token says {exc.actual}, its key fits {exc.expected}: the token was not signed by this key "
            "as published (another issuer or environment), or the issuer's key set declares the wrong alg.",
        )

    def _why_signature(self, exc: TokenRejected) -> tuple[str, str]:
        graph = graph_evidence(self.header, self.claims)
        if graph:
            return self._graph_words(graph)
        return (
            f"the signature does not verify with key {exc.actual}: the token was changed after it was signed, "
            "or another key was published under the same kid (a token from another environment or cloud).",
            "copy the whole token again, unchanged; check that it comes from the configured issuer.",
        )

    def _why_expired(self, exc: TokenRejected) -> tuple[str, str]:
        exp = numeric_date(self.claims, "exp") or 0.0
        iat = numeric_date(self.claims, "iat")
        life = f" It was issued for {duration(exp - iat)}." if iat is not None and exp > iat else ""
        return (
            f"the token expired {duration(self.now - exp)} ago{_seconds(self.now - exp)}, at {utc(exp)}; now is "
            f"{utc(self.now)}, and "
            f"{self._var(c.CLOCK_SKEW_ENV)} allows {self.cfg.clock_skew} s.{life}",
            "get a new token: clients should renew before exp (MSAL's acquireTokenSilent does). To look at an "
            "old token as it was, pass --now with a moment inside its lifetime.",
        )

    def _why_early(self, exc: TokenRejected) -> tuple[str, str]:
        name = "nbf" if exc.reason == Reason.NOT_YET_VALID else "iat"
        moment = numeric_date(self.claims, name) or self.now
        skew = self.cfg.clock_skew
        ahead = exactly(moment - self.now)
        what = "not valid before" if name == "nbf" else "issued at"
        return (
            f"the token's clock is {ahead} ahead of this one: it says {what} {utc(moment)} ({name}), and now "
            f"is {utc(self.now)}; {self._var(c.CLOCK_SKEW_ENV)} is {skew}.",
            "synchronise the clocks (NTP) of the machine that issued the token and of this one; if the "
            f"issuer's clock is known to drift, raise {self._var(c.CLOCK_SKEW_ENV)} (up to 600, currently {skew}).",
        )

    def _why_audience(self, exc: TokenRejected) -> tuple[str, str]:
        auds = self._auds()
        expected = sorted(self.cfg.audiences)
        variable = self._var(c.AUDIENCE_ENV)
        evidence = id_token_evidence(self.header, self.claims)
        if evidence:
            return (
                f"this is an ID token, not an access token: {'; '.join(evidence)}. An ID token tells the "
                f"client app who signed in; its aud ({_words(auds)}) is the client app itself, so no API "
                "accepts it.",
                self._id_token_fix(),
            )
        for aud in auds:
            twin = f"api://{aud}" if not aud.startswith("api://") else _bare(aud)
            if twin in expected:
                form = "the bare client id" if twin.startswith("api://") else "the application ID URI"
                return (
                    f"the token's aud is {aud}, {form}; {variable} lists {twin}. Both name the same app: v1.0 "
                    "tokens usually carry the application ID URI (api://...), v2.0 tokens the bare client id.",
                    f"list both forms: {self._assign(c.AUDIENCE_ENV, [*expected, aud])}.",
                )
        return (
            f"the token was issued for {_words(auds)}, but {variable} is {_words(expected)}: it is a token for "
            "another API (the client asked for that API's scope).",
            f"request a token with this API's scope ({_api_scope_base(self.cfg)}/.default or a scope it "
            f"exposes); if the token's audience really is this API, add it to {variable}.",
        )

    def _id_token_fix(self) -> str:
        base = _api_scope_base(self.cfg)
        return (
            "send the access token the client got for this API, not the ID token: with MSAL, "
            f"acquireTokenSilent({{scopes: ['{base}/.default']}}) and use result.accessToken."
        )

    def _why_missing(self, exc: TokenRejected) -> tuple[str, str]:
        expected = exc.expected
        if isinstance(expected, list):
            return (
                f"none of {self._var(c.PRINCIPAL_CLAIM_ENV)} ({_words(expected)}) is in the token, so the "
                "function has no caller to name in principalId.",
                f"set {self._var(c.PRINCIPAL_CLAIM_ENV)} to claims this token has "
                f"(it has {_words(sorted(self.claims)[:12])}).",
            )
        if expected == "tid":
            return (
                f"{exc.message}: the token does not come from an Entra work or school tenant.",
                "send a token from the configured issuer, or drop ALLOWED_TENANTS / the {tenantid} template "
                "for an issuer without tenants.",
            )
        return (f"{exc.message}.", f"the issuer must put {expected} in its tokens; check it is the right issuer.")

    def _why_invalid(self, exc: TokenRejected) -> tuple[str, str]:
        return (
            f"{exc.message} (got {exc.actual}). A claim the decision relies on with another JSON type makes "
            "the whole token invalid; the function never falls back to another claim.",
            "send a token from the configured issuer; if the issuer really emits this claim so, use another "
            f"claim ({self._var(c.PRINCIPAL_CLAIM_ENV)} for the caller's name).",
        )

    def _why_not_access_token(self, exc: TokenRejected) -> tuple[str, str]:
        evidence = id_token_evidence(self.header, self.claims) or [exc.message.split(": ", 1)[-1]]
        return self._id_token_words(evidence, self.current)

    def _why_token_type(self, exc: TokenRejected) -> tuple[str, str]:
        return (
            f"the header's typ is {exc.actual}: it names another kind of JWT (a DPoP proof, a security event, a "
            "logout token...), not an access token. RFC 8725 section 3.11 asks verifiers to tell kinds of JWT "
            "apart by typ; the function accepts typ JWT or at+jwt (any case, application/ optional), or none.",
            "send the access token the client got for this API (the value it puts after 'Bearer '), not another "
            "JWT it holds.",
        )

    # ----- the report -----------------------------------------------------------------------------

    def _report(self, parsed: ParsedToken | None) -> Report:
        decisive = next((check for check in self.checks if check.decisive), None)
        if decisive is None:
            verdict, reason = Verdict.ACCEPTED, None
        elif decisive.status is Status.ERROR:
            verdict, reason = Verdict.UNDECIDED, decisive.reason
        else:
            verdict, reason = Verdict.REFUSED, decisive.reason
        principal = None
        context: dict[str, Any] = {}
        if verdict is Verdict.ACCEPTED and parsed is not None:
            principal, _ = principal_of(self.claims, self.cfg.principal_claims)
            context = dict(context_of(self.claims, self.cfg.context_claims))
        return Report(
            verdict=verdict,
            reason=reason,
            now=self.now,
            header=self.header if parsed is not None else None,
            claims=self.claims if parsed is not None else None,
            configuration=describe_settings(self.settings, self.verifier),
            checks=self.checks,
            principal=principal,
            context=context,
        )


class _Warning(Exception):
    """A step passed, with something to say: recorded as ``Status.WARN`` (with a cause and fix, maybe)."""

    def __init__(self, summary: str, cause: str | None = None, fix: str | None = None) -> None:
        super().__init__(summary)
        self.cause = cause
        self.fix = fix


def describe_settings(settings: Settings, verifier: Verifier | None = None) -> dict[str, Any]:
    """What ``explain`` was configured with, per issuer (one entry in the single-issuer setup)."""
    entries = []
    for index, issuer in enumerate(settings.issuers):
        if verifier is not None:
            keys = verifier.issuers[index].keys.provider.describe()
        else:
            keys = issuer.static_keys_origin or (
                redact_url(issuer.jwks_uri) if issuer.jwks_uri else f"discovery at {redact_url(issuer.discovery_url)}"
            )
        tenants = sorted(issuer.allowed_tenants) if issuer.allowed_tenants is not None else None
        if issuer.any_tenant:
            tenants = ["*"]
        entries.append(
            {
                "name": issuer.name,
                c.ISSUER_ENV: list(issuer.issuers),
                c.AUDIENCE_ENV: sorted(issuer.audiences),
                c.ALLOWED_ALGORITHMS_ENV: sorted(issuer.algorithms),
                c.ALLOWED_TENANTS_ENV: tenants,
                c.CLOCK_SKEW_ENV: issuer.clock_skew,
                c.PRINCIPAL_CLAIM_ENV: list(issuer.principal_claims),
                "keys": keys,
            }
        )
    return {"issuers": entries}


def decode_for_display(token: str) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """Header and claims when the token decodes at all (used when the configuration is broken)."""
    try:
        parsed = parse_token(token, len(token) + 1)
    except TokenRejected:
        return None
    return parsed.header, parsed.claims


def explain(
    token: str,
    settings: Settings,
    *,
    now: float | None = None,
    fetcher: Fetcher | None = None,
    verifier: Verifier | None = None,
    revocation: ListReading | None = None,
) -> Report:
    """Run every check of the engine on ``token`` at ``now`` (default: the current time)."""
    if verifier is None:
        moment = time.time() if now is None else float(now)
        verifier = build_verifier(settings, fetcher=fetcher, clock=lambda: moment)
    return _Doctor(settings, verifier, revocation).run(token)


def report_json(report: Report) -> str:
    return json.dumps(report.to_dict(), indent=2, sort_keys=False, default=str)


def _hostname(url: str) -> str | None:
    """The host of a URL a token names, or ``None`` when ``urlsplit`` cannot read one."""
    try:
        return urlsplit(url).hostname
    except ValueError:
        return None
