"""Loading ``jwt_authorizer.app`` the way Lambda does: environment first, then a cold import."""

from __future__ import annotations

import importlib
import logging
import os
import sys
from types import ModuleType

from jwt_authorizer.constants import __dict__ as _constants

# Every variable the function reads; cleared before each cold start so tests do not leak settings.
OWN_VARIABLES = [v for k, v in _constants.items() if k.endswith("_ENV") and isinstance(v, str)]


def cold_start(env: dict[str, str]) -> ModuleType:
    """Import the handler module afresh with exactly ``env`` as its configuration."""
    for name in [*OWN_VARIABLES, "POWERTOOLS_LOGGER_LOG_EVENT", "POWERTOOLS_LOG_LEVEL"]:
        os.environ.pop(name, None)
    os.environ.update(env)
    os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")
    # Powertools reuses the stdlib logger of a service name, with a handler bound to the stdout of
    # the first test; a new container starts with none.
    for name in (env.get("POWERTOOLS_SERVICE_NAME", "jwt-authorizer"),):
        logging.Logger.manager.loggerDict.pop(name, None)
    sys.modules.pop("jwt_authorizer.app", None)
    return importlib.import_module("jwt_authorizer.app")
