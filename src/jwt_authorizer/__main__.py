"""``python -m jwt_authorizer``: the same command line as the ``jwt-authorizer`` script."""

from __future__ import annotations

from .cli import main

raise SystemExit(main())
