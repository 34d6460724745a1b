"""URLs as configuration and logs see them: which may be fetched, and how a log line may show one.

Kept apart from ``http`` (urllib3) so that the configuration and the early key fetch can check a
URL before the HTTP stack is imported.
"""

from __future__ import annotations

from urllib.parse import urlsplit

_MAX_URL_CHARS = 300

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


def _credential_in_tail(url: str, netloc: str) -> bool:
    """A credential cut short by an unencoded "?" or "#": its "@" comes after the authority.

    ``https://svc:2024#s3cr3t@idp.example/keys`` reads as host "svc", port 2024 and a fragment:
    an "@" before any "/" of what follows the authority ends a credential, not a path.
    """
    if "@" in netloc:
        return False
    rest = url.partition("://")[2][len(netloc) :]
    return rest[:1] in ("?", "#") and "@" in rest.split("/", 1)[0]


def is_secure_url(url: object) -> bool:
    """``https://`` anywhere; ``http://`` only on loopback, for local runs and tests.

    Anything that is not a string, or that ``urlsplit`` cannot read (``https://[::1``), is not.
    """
    if not isinstance(url, str):
        return False
    try:
        parts = urlsplit(url)
        host = parts.hostname
        parts.port  # noqa: B018 - ``https://user:pa/ss@host`` reads as port "pa": a mistyped credential
    except ValueError:
        return False
    if _credential_in_tail(url, parts.netloc):
        return False
    if parts.scheme == "https" and host:
        return True
    return parts.scheme == "http" and host in LOOPBACK_HOSTS


def redact_url(url: object) -> str:
    """A URL as a log line may show it: scheme, host, port and path; never userinfo or query.

    ``https://user:secret@idp.example/keys?sig=abc`` becomes ``https://***@idp.example/keys?***``:
    what was there is visible, what it said is not. The fragment is dropped.
    """
    if not isinstance(url, str):
        return f"<not a URL: {type(url).__name__}>"
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<an unparsable URL>"
    if parts.scheme and parts.netloc:
        _, at, hostport = parts.netloc.rpartition("@")
        after = url.partition("://")[2]
        try:
            parts.port  # noqa: B018 - raises for a port that is not a number
            early_end = not after.startswith(parts.netloc)
        except ValueError:
            early_end = True
        early_end = early_end or _credential_in_tail(url, parts.netloc)
        if early_end or "@" in parts.path:
            # A credential with an unencoded "/", "?" or "#" ends the authority early for urlsplit
            # (``https://svc:pa/ss@idp.example/keys`` reads as host "svc", port "pa"), and each
            # reader may split it differently: nothing before the "@" that ends it is shown.
            if early_end and "@" not in after:
                return "<an unparsable URL>"
            tail = after.rpartition("@")[2] if early_end else parts.path.rpartition("@")[2]
            path, question, _ = tail.split("#", 1)[0].partition("?")
            queried = question if early_end else parts.query
            text = f"{parts.scheme}://***@{path}" + ("?***" if queried else "")
        else:
            head = f"{parts.scheme}://{'***@' if at else ''}{hostport}"
            text = head + parts.path + ("?***" if parts.query else "")
    else:
        bare = url.split("#", 1)[0]
        path, question, _ = bare.partition("?")
        _, at, rest = path.rpartition("@")
        text = ("***@" if at else "") + rest + ("?***" if question else "")
    return text if len(text) <= _MAX_URL_CHARS else text[:_MAX_URL_CHARS] + "..."
