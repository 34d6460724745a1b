"""Strict compact-JWS parsing, done once per token.

PyJWT re-validates every base64url character in a Python loop and ``get_unverified_header`` plus
``decode`` parses a token twice; here the three segments are checked by one C-level regular
expression, decoded by ``binascii`` and parsed by ``json`` exactly once, and the pieces are kept
for the signature check. Strictness is the point: one accepted spelling per token.
"""

from __future__ import annotations

import binascii
import json
from dataclasses import dataclass
from typing import Any

from .exceptions import MalformedTokenError, TokenTooLargeError

_TO_STD_B64 = bytes.maketrans(b"-_", b"+/")
# The last character of a segment whose length is 2 or 3 (mod 4) carries 4 or 2 unused bits, which
# must be zero: otherwise several spellings decode to the same bytes.
_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
_CANONICAL_LAST = {2: frozenset(_ALPHABET[::16]), 3: frozenset(_ALPHABET[::4])}


def _reject_constant(name: str) -> Any:
    raise ValueError(f"non-finite number {name}")


def _unique_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """Refuse duplicate member names: two readers must never see two different tokens."""
    obj = dict(pairs)
    if len(obj) != len(pairs):
        raise ValueError("duplicate member name")
    return obj


_DECODER = json.JSONDecoder(object_pairs_hook=_unique_object, parse_constant=_reject_constant)


def b64url_decode(segment: str) -> bytes:
    """Decode one unpadded base64url segment, refusing non-canonical spellings."""
    remainder = len(segment) % 4
    if remainder == 1:
        raise ValueError("impossible base64url length")
    if remainder and segment[-1] not in _CANONICAL_LAST[remainder]:
        raise ValueError("non-canonical base64url (unused bits set)")
    padded = segment.encode("ascii").translate(_TO_STD_B64) + b"=" * (-remainder % 4)
    return binascii.a2b_base64(padded, strict_mode=True)


def _json_object(segment: str, what: str) -> dict[str, Any]:
    try:
        text = b64url_decode(segment).decode("utf-8")
        value = _DECODER.decode(text)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise MalformedTokenError(f"the {what} is not valid base64url JSON: {exc}") from None
    if not isinstance(value, dict):
        raise MalformedTokenError(f"the {what} is not a JSON object")
    return value


@dataclass(frozen=True, slots=True)
class ParsedToken:
    """A token split and decoded, but not yet trusted."""

    header: dict[str, Any]
    claims: dict[str, Any]
    signing_input: bytes
    signature: bytes


def parse_token(token: str, max_bytes: int) -> ParsedToken:
    """Split and decode a compact JWS, or raise ``MalformedTokenError``/``TokenTooLargeError``."""
    if len(token) > max_bytes:
        raise TokenTooLargeError("the token is larger than MAX_TOKEN_BYTES", actual=len(token), expected=max_bytes)
    segments = token.split(".")
    if len(segments) != 3 or not all(segments):
        raise MalformedTokenError(
            "a token must be three non-empty base64url segments separated by dots",
            actual=f"{len(segments)} segment(s)",
        )
    header_b64, payload_b64, signature_b64 = segments
    # The standard alphabet's extra characters and padding are not base64url; every other stray
    # character is refused by the strict decoder (one C-level scan each instead of a regex).
    if any("+" in part or "/" in part or "=" in part for part in segments):
        raise MalformedTokenError("a segment has characters outside base64url", actual="characters outside base64url")
    header = _json_object(header_b64, "header")
    claims = _json_object(payload_b64, "payload")
    try:
        signature = b64url_decode(signature_b64)
    except (ValueError, binascii.Error) as exc:
        raise MalformedTokenError(f"the signature is not valid base64url: {exc}") from None
    signing_input = token[: len(header_b64) + len(payload_b64) + 1].encode("ascii")
    return ParsedToken(header, claims, signing_input, signature)
