"""Strict compact-JWS parsing, done once per token.

PyJWT re-validates every base64url character in a Python loop and ``get_unverified_header`` plus
``decode`` parses a token twice; here the segments are decoded by ``binascii`` and parsed by
``json``'s C scanner exactly once, and the pieces are kept for the signature check. Strictness is
the point: one accepted spelling per token, no duplicate member names, no NaN, bounded nesting.

Tokens of one issuer share a handful of headers (one per signing key), so a caller may keep the
headers that passed its header checks by segment (``headers``): a fresh token then costs the
decoding of its payload and signature only.
"""

from __future__ import annotations

import binascii
import json
from collections.abc import Callable
from typing import Any

from .exceptions import MalformedTokenError, TokenTooLargeError

_TO_STD_B64 = bytes.maketrans(b"-_", b"+/")
# The last character of a segment whose length is 2 or 3 (mod 4) carries 4 or 2 unused bits, which
# must be zero: otherwise several spellings decode to the same bytes.
_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
_CANONICAL_LAST = {2: frozenset(_ALPHABET[::16]), 3: frozenset(_ALPHABET[::4])}
_PADDING = (b"", b"", b"==", b"=")
# Deeper JSON than this is refused before it is parsed: no claim needs it, and without a bound the
# depth a parser accepts differs between Python versions (3.13's json parses thousands of levels).
MAX_JSON_DEPTH = 128
_MAX_HEADERS = 256


def _reject_constant(name: str) -> Any:
    raise ValueError(f"non-finite number {name}")


def _unique_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """Refuse duplicate member names: two readers must never see two different tokens."""
    obj = dict(pairs)
    if len(obj) != len(pairs):
        raise ValueError("duplicate member name")
    return obj


_DECODER = json.JSONDecoder(object_pairs_hook=_unique_object, parse_constant=_reject_constant)
# The C scanner behind ``_DECODER.decode``, called directly: ``decode`` adds two regular-expression
# whitespace scans and a Python frame. A text it cannot take whole goes through ``decode`` for the
# exact error.
_scan: Callable[[str, int], tuple[Any, int]] = _DECODER.scan_once  # type: ignore[attr-defined]


def b64url_decode(segment: str) -> bytes:
    """Decode one unpadded base64url segment, refusing non-canonical spellings."""
    remainder = len(segment) % 4
    if remainder == 1:
        raise ValueError("impossible base64url length")
    if remainder and segment[-1] not in _CANONICAL_LAST[remainder]:
        raise ValueError("non-canonical base64url (unused bits set)")
    return binascii.a2b_base64(segment.encode("ascii").translate(_TO_STD_B64) + _PADDING[remainder], strict_mode=True)


def _depth(text: str) -> int:
    """The deepest nesting of arrays and objects in ``text`` (brackets inside strings ignored)."""
    depth = deepest = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
    return deepest


def _json_object(segment: str, what: str) -> dict[str, Any]:
    try:
        text = b64url_decode(segment).decode("utf-8")
        if text.count("{") + text.count("[") > MAX_JSON_DEPTH and _depth(text) > MAX_JSON_DEPTH:
            raise ValueError(f"nested deeper than {MAX_JSON_DEPTH} levels")
        try:
            value, end = _scan(text, 0)
        except StopIteration:
            end = -1
        if end != len(text):
            value = _DECODER.decode(text)  # leading/trailing whitespace, or the error's message
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise MalformedTokenError(f"the {what} is not valid base64url JSON: {exc}") from None
    if value.__class__ is not dict:
        raise MalformedTokenError(f"the {what} is not a JSON object")
    return value


class ParsedToken:
    """A token split and decoded, but not yet trusted. ``header`` may be shared: never mutate it."""

    __slots__ = ("claims", "header", "signature", "signing_input")

    def __init__(self, header: dict[str, Any], claims: dict[str, Any], signing_input: bytes, signature: bytes) -> None:
        self.header = header
        self.claims = claims
        self.signing_input = signing_input
        self.signature = signature

    def __repr__(self) -> str:
        return f"ParsedToken(header={self.header!r}, claims=<{len(self.claims)} claims>)"


HeaderCheck = Callable[[dict[str, Any]], None]


def parse_token(
    token: str,
    max_bytes: int,
    *,
    check_header: HeaderCheck | None = None,
    headers: dict[str, dict[str, Any]] | None = None,
) -> ParsedToken:
    """Split and decode a compact JWS, or raise ``MalformedTokenError``/``TokenTooLargeError``.

    ``check_header`` (raising ``TokenRejected``) runs on a header the first time it is seen;
    ``headers`` remembers, by header segment, the headers that passed it: the caller owns that
    memory and gives it the same checks every time.
    """
    if len(token) > max_bytes:
        raise TokenTooLargeError("the token is larger than MAX_TOKEN_BYTES", actual=len(token), expected=max_bytes)
    segments = token.split(".")
    if len(segments) != 3 or not (segments[0] and segments[1] and segments[2]):
        raise MalformedTokenError(
            "a token must be three non-empty base64url segments separated by dots",
            actual=f"{len(segments)} segment(s)",
        )
    # The standard alphabet's extra characters and padding are not base64url; every other stray
    # character is refused by the strict decoder (three C-level scans of the token in all).
    if "+" in token or "/" in token or "=" in token:
        raise MalformedTokenError("a segment has characters outside base64url", actual="characters outside base64url")
    header_b64, payload_b64, signature_b64 = segments
    header = headers.get(header_b64) if headers is not None else None
    if header is None:
        header = _json_object(header_b64, "header")
        if check_header is not None:
            check_header(header)
        if headers is not None:
            if len(headers) >= _MAX_HEADERS:
                headers.clear()  # a flood of distinct headers costs what parsing them costs, no more
            headers[header_b64] = header
    claims = _json_object(payload_b64, "payload")
    try:
        signature = b64url_decode(signature_b64)
    except (ValueError, binascii.Error) as exc:
        raise MalformedTokenError(f"the signature is not valid base64url: {exc}") from None
    signing_input = token[: len(header_b64) + len(payload_b64) + 1].encode("ascii")
    return ParsedToken(header, claims, signing_input, signature)
