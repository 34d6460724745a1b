"""Times and durations as people read and write them: in refusal messages, and on the command line.

"expired 11520 s ago" makes the reader do arithmetic at the worst moment; "expired 3 hours 12
minutes ago, at 2026-11-28T10:00:00Z" answers both questions they have (how long, and since when
in their own clock). Only the two largest units are kept: a refusal needs the size of the gap, not
its last second.

The moments people type (``--now``, ``--expires``, a revocation list's dates) are read here too,
by one parser: unix seconds or ISO 8601 with a time zone, between 1970 and the year 9999.
"""

from __future__ import annotations

import math
import time

_CENTURY = 100 * 365 * 86400
# The last second an ISO 8601 date-time can spell (9999-12-31T23:59:59Z): moments that are logged,
# explained or written back as date-times stay at or before it.
LAST_MOMENT = 253402300799.0


def duration(seconds: float) -> str:
    """``3 days``, ``2 hours 5 minutes``, ``45 seconds``; a negative gap reads as its size."""
    if not math.isfinite(seconds) or abs(seconds) >= _CENTURY:
        return "more than 100 years"
    total = int(abs(seconds))
    if total < 60:
        return _plural("second", total)
    minutes, secs = divmod(total, 60)
    if minutes < 60:
        return _pair("minute", minutes, "second", secs)
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return _pair("hour", hours, "minute", minutes)
    days, hours = divmod(hours, 24)
    return _pair("day", days, "hour", hours)


def _pair(name: str, count: int, finer: str, rest: int) -> str:
    return f"{_plural(name, count)} {_plural(finer, rest)}" if rest else _plural(name, count)


def _plural(name: str, count: int) -> str:
    return f"{count} {name}" if count == 1 else f"{count} {name}s"


def instant(epoch_seconds: float) -> str:
    """An RFC 3339 UTC time to the second (``2026-11-28T10:00:00Z``), or the number when out of range."""
    try:
        return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(int(epoch_seconds)))
    except (OverflowError, OSError, ValueError):
        return str(epoch_seconds)


_UNITS = {"s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "d": 86400}
_OVERSIZED = 10**18  # what a digit run too long to multiply reads as: past any bound a caller sets


def duration_seconds(text: str, *, unit_required: bool) -> int | None:
    """``90s``, ``15m``, ``1h``, ``2d`` as seconds (a bare number too, unless ``unit_required``).

    ``None`` when ``text`` is no duration. The tools bound the result themselves (a century for a
    token's lifetime, the year 9999 for a revocation); a number too long to read exceeds both.
    """
    import re  # noqa: PLC0415 - the hot path never reads durations

    match = re.fullmatch(r"(?P<n>\d+)\s*(?P<unit>s|sec|m|min|h|d)?", text.strip(), re.IGNORECASE)
    if match is None or (unit_required and match["unit"] is None):
        return None
    digits = match["n"]
    return int(digits) * _UNITS[(match["unit"] or "s").lower()] if len(digits) <= 15 else _OVERSIZED


def parse_moment(text: str, what: str, forms: str = "unix seconds nor an ISO 8601 date-time") -> float:
    """Unix seconds or an ISO 8601 date-time with a time zone (``2026-11-28T10:00:00Z``).

    The command-line tools take moments from people: a date without a zone would silently mean the
    machine's zone, so it is refused. ``ValueError`` names the value as ``what`` (``--now '...'``)
    and the accepted ``forms``.
    """
    try:
        value = float(text)
    except ValueError:
        value = iso_moment(text, what, f"is neither {forms}")
    if not 0 <= value <= LAST_MOMENT:  # NaN fails this too
        raise ValueError(f"{what} is not a moment between 1970 and the year 9999")
    return value


def iso_moment(text: str, what: str, refusal: str = "is not an ISO 8601 date-time") -> float:
    """An ISO 8601 date-time with a time zone as unix seconds; ``ValueError`` says ``what`` it was.

    Shared by the tools and the revocation list: a date without a zone would silently mean the
    reading machine's zone, so it is refused everywhere.
    """
    from datetime import datetime  # noqa: PLC0415 - the hot path never reads dates

    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{what} {refusal}") from None
    if parsed.tzinfo is None:
        raise ValueError(f"{what} has no time zone; add Z or +00:00")
    return parsed.timestamp()
