"""Finding files shipped with the function (JWKS, issuer lists, route rules).

A relative name is looked up where the code is deployed — Lambda's task root, this package, its
parent — and then in the working directory (local runs); the first existing file wins.
"""

from __future__ import annotations

import os
from pathlib import Path

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
