"""Finding files shipped with the function (JWKS, issuer lists, route rules).

A relative name is looked up where the code is deployed — Lambda's task root, this package, its
parent — and then in the working directory (local runs); the first existing file wins.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from .exceptions import ConfigurationError

_PACKAGE_ROOT = Path(__file__).resolve().parent


def resolve_packaged_file(name: str) -> Path:
    path = Path(name)
    if path.is_absolute():
        return path
    roots = [Path(os.environ.get("LAMBDA_TASK_ROOT", "")), _PACKAGE_ROOT, _PACKAGE_ROOT.parent, Path.cwd()]
    for root in roots:
        candidate = root / path
        if candidate.is_file():
            return candidate
    return path


def read_configured_file(
    name: str,
    variable: str,
    fix: str,
    *,
    resolve: Callable[[str], Path] = resolve_packaged_file,
    max_bytes: int | None = None,
) -> tuple[Path, str]:
    """The path and UTF-8 text of the file a variable names, or ``ConfigurationError`` saying why not.

    A name comes from an environment variable or a JSON document, so it may be anything: too long
    for the file system, or holding a NUL or a character the file system cannot encode. Each is a
    configuration error naming the variable, like a missing file, never an ``OSError`` at import.
    """
    shown = repr(name) if len(name) <= 120 else repr(name[:120]) + "..."
    try:
        path = resolve(name)
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigurationError(variable, f"cannot read {shown}: {exc.strerror or exc}", fix) from None
    except ValueError:  # an embedded NUL, or a name the file system cannot encode
        raise ConfigurationError(variable, f"cannot read {shown}: not a usable file name", fix) from None
    if max_bytes is not None and len(data) > max_bytes:  # measured before decoding: the size is the news
        raise ConfigurationError(variable, f"{shown} is larger than {max_bytes} bytes", "trim it")
    try:
        return path, data.decode("utf-8")
    except UnicodeDecodeError:
        raise ConfigurationError(variable, f"{shown} is not UTF-8 text", "save it as UTF-8") from None
