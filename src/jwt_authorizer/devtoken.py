"""Minting tokens from the DEVELOPMENT-ONLY issuer in ``events/dev-issuer`` for local tries.

Its private key is committed and public (see ``events/dev-issuer/README.md``): a deployment must
never trust this issuer. Only the command line imports this module; the Lambda handler never does.
"""

from __future__ import annotations

import json
import math
import re
import secrets
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from .constants import SUPPORTED_ALGORITHMS
from .timefmt import duration_seconds

DEV_ISSUER = "https://dev-issuer.jwt-authorizer.invalid"
DEV_AUDIENCE = "api://jwt-authorizer-dev"
DEV_KID = "dev-2026"
DEV_SUBJECT = "dev-user"
DEV_CLIENT = "dev-client"
DEFAULT_LIFETIME = 3600
EXPIRED_AGO = 3600  # --expired: the token expired one hour before "now"
FUNCTION_BLOCK = "AuthorizerFunction"

_KEY_FILE = Path("dev-issuer") / "private-key.pem"
_CENTURY = 100 * 365 * 86400

SigningKeyPair = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey


class DevTokenError(Exception):
    """A development token cannot be minted; the message says what to change."""


@dataclass(frozen=True)
class DevIssuer:
    """What signs development tokens: a private key, its kid, and the issuer and audience to use."""

    key: SigningKeyPair
    kid: str
    issuer: str = DEV_ISSUER
    audience: str = DEV_AUDIENCE

    @property
    def algorithm(self) -> str:
        if isinstance(self.key, ec.EllipticCurvePrivateKey):
            return {256: "ES256", 384: "ES384", 521: "ES512"}.get(self.key.curve.key_size, "ES256")
        return "RS256"


def find_events_dir(start: Path | None = None) -> Path | None:
    """``events/`` holding the development issuer: from ``start`` (the working directory) upwards,
    then next to the package in a source checkout."""
    here = (start or Path.cwd()).resolve()
    candidates = [folder / "events" for folder in (here, *here.parents)]
    candidates.append(Path(__file__).resolve().parents[2] / "events")
    return next((folder for folder in candidates if (folder / _KEY_FILE).is_file()), None)


def _env_defaults(events: Path) -> dict[str, Any]:
    """The development function's settings in ``events/env.json`` (empty when unreadable)."""
    try:
        document = json.loads((events / "env.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    block = document.get(FUNCTION_BLOCK) if isinstance(document, dict) else None
    return block if isinstance(block, dict) else {}


def _kid_for(key: SigningKeyPair, jwks_file: Path) -> str | None:
    """The kid under which ``jwks_file`` publishes this key's public half, if it does."""
    try:
        document = json.loads(jwks_file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    public = key.public_key()
    for jwk in document.get("keys", []) if isinstance(document, dict) else []:
        try:
            if isinstance(public, rsa.RSAPublicKey) and jwk.get("kty") == "RSA":
                other = RSAAlgorithm.from_jwk(jwk)
                if isinstance(other, rsa.RSAPublicKey) and other.public_numbers() == public.public_numbers():
                    return str(jwk["kid"])
            if isinstance(public, ec.EllipticCurvePublicKey) and jwk.get("kty") == "EC":
                other_ec = ECAlgorithm.from_jwk(jwk)
                if (
                    isinstance(other_ec, ec.EllipticCurvePublicKey)
                    and other_ec.public_numbers() == public.public_numbers()
                ):
                    return str(jwk["kid"])
        except (KeyError, ValueError, jwt.exceptions.InvalidKeyError):
            continue
    return None


def load_key(path: Path) -> SigningKeyPair:
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except OSError as exc:
        raise DevTokenError(f"cannot read the private key {path}: {exc.strerror}") from None
    except (ValueError, TypeError) as exc:
        raise DevTokenError(f"{path} is not an unencrypted PEM private key: {exc}") from None
    if not isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
        raise DevTokenError(f"{path} holds a {type(key).__name__}; an RSA or EC key is needed")
    return key


def load_dev_issuer(
    events_dir: Path | None = None, *, key_file: Path | None = None, kid: str | None = None
) -> DevIssuer:
    """The development issuer from ``events/``: key, kid (from ``jwks.json``), issuer and audience
    (from ``env.json``), each with a built-in default."""
    events = events_dir or find_events_dir()
    if key_file is None:
        if events is None:
            raise DevTokenError(
                "cannot find events/dev-issuer/private-key.pem here or above; run from the project folder or pass --key"
            )
        key_file = events / _KEY_FILE
    key = load_key(key_file)
    kid = kid or _kid_for(key, key_file.parent / "jwks.json") or DEV_KID
    env = _env_defaults(events) if events is not None else {}
    issuer = str(env.get("ISSUER") or DEV_ISSUER).split(",")[0].strip()
    audience = str(env.get("AUDIENCE") or DEV_AUDIENCE).split(",")[0].strip()
    return DevIssuer(key, kid, issuer, audience)


def parse_lifetime(text: str) -> int:
    """``3600``, ``90s``, ``15m``, ``1h``, ``2d`` to seconds."""
    seconds = duration_seconds(text, unit_required=False)
    if seconds is None:
        raise DevTokenError(f"{text[:40]!r} is not a duration (use seconds, or 90s, 15m, 1h, 2d)")
    if seconds > _CENTURY:
        raise DevTokenError(f"{text[:40]!r} is longer than a century")
    return seconds


def parse_claim(text: str) -> tuple[str, Any]:
    """``name=value``; the value is JSON when it parses as JSON, else a string. ``name=`` removes."""
    name, sep, raw = text.partition("=")
    if not sep or not name:
        raise DevTokenError(f"{text!r} is not name=value")
    if raw == "":
        return name, REMOVE
    try:
        value = json.loads(raw)
    except (ValueError, RecursionError):
        return name, raw
    if isinstance(value, float) and not math.isfinite(value):
        return name, raw
    return name, value


class _Remove:
    def __repr__(self) -> str:
        return "<remove>"


REMOVE: Any = _Remove()  # a claims value that removes the claim (``--claim name=``)


def _split(values: str | Sequence[str] | None) -> list[str]:
    if values is None:
        return []
    items = [values] if isinstance(values, str) else list(values)
    return [part for item in items for part in re.split(r"[,\s]+", item) if part]


def mint(
    issuer: DevIssuer,
    *,
    audience: str | Sequence[str] | None = None,
    subject: str | None = DEV_SUBJECT,
    scopes: str | Sequence[str] | None = None,
    roles: str | Sequence[str] | None = None,
    lifetime: int = DEFAULT_LIFETIME,
    now: float | None = None,
    expired: bool = False,
    tenant_id: str | None = None,
    nonce: str | bool | None = None,
    claims: Mapping[str, Any] | None = None,
    algorithm: str | None = None,
    iss: str | None = None,
) -> str:
    """A signed development token. ``claims`` win over everything; a ``name=`` removal comes from
    ``parse_claim``. ``nonce`` puts a nonce in the header, as Microsoft Graph tokens have."""
    moment = int(time.time() if now is None else now)
    if expired:
        exp = moment - EXPIRED_AGO
        issued = exp - lifetime
    else:
        issued, exp = moment, moment + lifetime
    auds = _split(audience) or [issuer.audience]
    body: dict[str, Any] = {
        "iss": iss or issuer.issuer,
        "aud": auds[0] if len(auds) == 1 else auds,
        "sub": subject,
        "azp": DEV_CLIENT,
        "iat": issued,
        "nbf": issued,
        "exp": exp,
    }
    if tenant_id is not None:
        body["tid"] = tenant_id
    scope_list = _split(scopes)
    if scope_list:
        body["scp"] = " ".join(scope_list)
    role_list = _split(roles)
    if role_list:
        body["roles"] = role_list
    for name, value in (claims or {}).items():
        if value is REMOVE:
            body.pop(name, None)
        else:
            body[name] = value
    body = {k: v for k, v in body.items() if v is not None}
    header: dict[str, Any] = {"kid": issuer.kid, "typ": "JWT"}
    if nonce:
        header["nonce"] = nonce if isinstance(nonce, str) else secrets.token_urlsafe(32)
    chosen = algorithm or issuer.algorithm
    if chosen not in SUPPORTED_ALGORITHMS:
        choices = ", ".join(sorted(SUPPORTED_ALGORITHMS))
        raise DevTokenError(f"--alg {chosen[:20]!r}: use one of {choices} (what the authorizer accepts)")
    try:
        return jwt.encode(body, issuer.key, algorithm=chosen, headers=header)
    except (TypeError, ValueError, NotImplementedError, jwt.PyJWTError) as exc:  # an EC algorithm with an RSA key
        raise DevTokenError(f"--alg {chosen} cannot sign with this key ({type(exc).__name__})") from None
