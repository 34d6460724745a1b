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
# must be zero: otherwise several spellings decode to the same bytes. (Byte values of the standard
# alphabet, which segments are translated to before decoding.)
_STD_ALPHABET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
_CANONICAL_LAST = {2: frozenset(_STD_ALPHABET[::16]), 3: frozenset(_STD_ALPHABET[::4])}
_PADDING = (b"", b"", b"==", b"=")
# Deeper JSON than this is refused: no claim needs it, and without a bound the depth accepted
# would differ between Python versions (3.11's json stops near 1,000 levels, 3.13's parses on).
MAX_JSON_DEPTH = 128
_MAX_HEADERS = 256
_CONTAINERS = (dict, list)


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


def _decode_std(segment: bytes) -> bytes:
    """Decode one unpadded segment already translated to the standard alphabet, canonically."""
    remainder = len(segment) % 4
    if remainder == 1:
        raise ValueError("impossible base64url length")
    if remainder and segment[-1] not in _CANONICAL_LAST[remainder]:
        raise ValueError("non-canonical base64url (unused bits set)")
    return binascii.a2b_base64(segment + _PADDING[remainder], strict_mode=True)


def b64url_decode(segment: str) -> bytes:
    """Decode one unpadded base64url segment, refusing non-canonical spellings."""
    raw = segment.encode("ascii")
    if b"+" in raw or b"/" in raw or b"=" in raw:
        raise ValueError("characters outside base64url")
    return _decode_std(raw.translate(_TO_STD_B64))


def _too_deep(value: dict[str, Any]) -> bool:
    """Is a parsed object nested deeper than ``MAX_JSON_DEPTH``? (No recursion: it may be deep.)"""
    for item in value.values():
        if item.__class__ is dict or item.__class__ is list:
            break
    else:
        return False  # flat claims, the common case: nothing to walk
    stack = [(item, 2) for item in value.values() if item.__class__ in _CONTAINERS]
    while stack:
        item, depth = stack.pop()
        if depth > MAX_JSON_DEPTH:
            return True
        children = item.values() if item.__class__ is dict else item
        stack.extend((child, depth + 1) for child in children if child.__class__ in _CONTAINERS)
    return False


def _json_object(segment: bytes, what: str) -> dict[str, Any]:
    """One JSON object from a translated segment; ``MalformedTokenError`` for anything else."""
    try:
        text = _decode_std(segment).decode("utf-8")
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
    if _too_deep(value):
        raise MalformedTokenError(f"the {what} is not valid base64url JSON: nested deeper than {MAX_JSON_DEPTH} levels")
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
    headers: dict[bytes, dict[str, Any]] | None = None,
) -> ParsedToken:
    """Split and decode a compact JWS, or raise ``MalformedTokenError``/``TokenTooLargeError``.

    ``check_header`` (raising ``TokenRejected``) runs on a header the first time it is seen;
    ``headers`` remembers, by header segment, the headers that passed it: the caller owns that
    memory and gives it the same checks every time.
    """
    if len(token) > max_bytes:
        raise TokenTooLargeError("the token is larger than MAX_TOKEN_BYTES", actual=len(token), expected=max_bytes)
    # Bytes from here on: encoded once, translated to the standard alphabet once, sliced.
    try:
        raw = token.encode("ascii")
    except UnicodeEncodeError:
        raise MalformedTokenError("the token has characters outside base64url", actual="non-ASCII characters") from None
    first = raw.find(b".")
    second = raw.find(b".", first + 1) if first > 0 else -1
    if first <= 0 or second <= first + 1 or second == len(raw) - 1 or raw.find(b".", second + 1) != -1:
        raise MalformedTokenError(
            "a token must be three non-empty base64url segments separated by dots",
            actual=f"{raw.count(b'.') + 1} segment(s)",
        )
    # To the standard alphabet, deleting its extra characters and padding, which are not base64url
    # (one pass: a shorter result means there were some); any other stray character is refused by
    # the strict decoder.
    std = raw.translate(_TO_STD_B64, b"+/=")
    if len(std) != len(raw):
        raise MalformedTokenError("a segment has characters outside base64url", actual="characters outside base64url")
    header_key = raw[:first]
    header = headers.get(header_key) if headers is not None else None
    if header is None:
        header = _json_object(std[:first], "header")
        if check_header is not None:
            check_header(header)
        if headers is not None:
            if len(headers) >= _MAX_HEADERS:
                headers.clear()  # a flood of distinct headers costs what parsing them costs, no more
            headers[header_key] = header
    claims = _json_object(std[first + 1 : second], "payload")
    try:
        signature = _decode_std(std[second + 1 :])
    except (ValueError, binascii.Error) as exc:
        raise MalformedTokenError(f"the signature is not valid base64url: {exc}") from None
    return ParsedToken(header, claims, raw[:second], signature)
