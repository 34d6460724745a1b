"""The JSON encoder of log lines: compact, total (anything unexpected becomes its ``str``), and cheap.

``json.dumps`` builds a new C encoder on every call, which costs more than encoding a log line's
dozen members; the encoder here is built once. Circular-reference checks are off: log fields are
flat dictionaries built by this package. Where CPython's C encoder is missing or has another
signature, the standard encoder is used instead (the same output, a little slower).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from json.encoder import encode_basestring_ascii
from typing import Any


def _build() -> Callable[[Any], str]:
    fallback: Callable[[Any], str] = json.JSONEncoder(separators=(",", ":"), default=str).encode
    try:
        from json.encoder import c_make_encoder  # type: ignore[attr-defined]  # noqa: PLC0415

        iterencode = c_make_encoder(None, str, encode_basestring_ascii, None, ":", ",", False, False, True)
    except (ImportError, TypeError):
        return fallback

    def dumps(value: Any) -> str:
        if isinstance(value, str):
            return encode_basestring_ascii(value)
        return "".join(iterencode(value, 0))

    probe = {"a": [1, "é", None, True], "b": {"c": 1.5}}
    return dumps if dumps(probe) == fallback(probe) else fallback


dumps = _build()
