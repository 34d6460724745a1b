"""Import Powertools' API Gateway authorizer classes without the other 40 event classes.

``aws_lambda_powertools.utilities.data_classes/__init__.py`` imports every event class of every AWS
service eagerly, which costs more at cold start than PyJWT and cryptography together (``make
bench`` shows it). The package is registered here from its spec, unexecuted, so that importing
its ``api_gateway_authorizer_event`` submodule loads only that module and what it imports. The
first access to any other name of the package runs the real ``__init__`` (PEP 562 module
``__getattr__``), so ``from aws_lambda_powertools.utilities.data_classes import SQSEvent`` elsewhere
keeps working.
"""

from __future__ import annotations

import importlib.util
import sys
from typing import Any

_PACKAGE = "aws_lambda_powertools.utilities.data_classes"


def _register_lazy_package() -> None:
    if _PACKAGE in sys.modules:
        return
    spec = importlib.util.find_spec(_PACKAGE)
    if spec is None or spec.loader is None:
        return  # let the normal import report the problem
    package = importlib.util.module_from_spec(spec)
    loader = spec.loader

    def complete(name: str) -> Any:
        delattr(package, "__getattr__")
        loader.exec_module(package)
        return getattr(package, name)

    setattr(package, "__getattr__", complete)  # noqa: B010 - a module-level __getattr__ (PEP 562)
    sys.modules[_PACKAGE] = package


def register() -> None:
    """Called from the package ``__init__``, before any module imports the authorizer classes."""
    _register_lazy_package()
