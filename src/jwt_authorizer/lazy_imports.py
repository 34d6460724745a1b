"""Import the parts of Powertools the authorizer runs, and not the rest, at cold start.

``aws_lambda_powertools/__init__.py`` imports Logger, Metrics and Tracer with their dependencies,
and ``utilities/data_classes/__init__.py`` imports every event class of every AWS service; together
they cost more at cold start than PyJWT, cryptography and urllib3 (``make bench`` measures it).
The authorizer needs one data-class module, the EMF serializer of Metrics, and a Logger only when
something unexpected happens.

So these packages are registered here from their specs, unexecuted: importing one of their
submodules (``...data_classes.api_gateway_authorizer_event``, ``aws_lambda_powertools.metrics``)
loads only that submodule and what it imports. The first access to any other name of such a
package runs its real ``__init__`` (PEP 562 module ``__getattr__``), so
``from aws_lambda_powertools import Logger`` or ``...data_classes import SQSEvent`` anywhere
keeps working exactly as before, at the usual price.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import sys
from typing import Any

# Outermost first: each registration needs its parent in sys.modules.
_LAZY_PACKAGES = (
    "aws_lambda_powertools",
    "aws_lambda_powertools.utilities",
    "aws_lambda_powertools.utilities.data_classes",
)


def _register_lazy_package(name: str) -> None:
    if name in sys.modules:
        return
    spec = importlib.util.find_spec(name)
    if spec is None or spec.loader is None:
        return  # let the normal import report the problem
    package = importlib.util.module_from_spec(spec)
    loader = spec.loader

    def complete(attribute: str) -> Any:
        delattr(package, "__getattr__")
        loader.exec_module(package)
        return getattr(package, attribute)

    setattr(package, "__getattr__", complete)  # noqa: B010 - a module-level __getattr__ (PEP 562)
    sys.modules[name] = package
    parent, _, child = name.rpartition(".")
    if parent:
        setattr(sys.modules[parent], child, package)


def register() -> None:
    """Called from the package ``__init__``, before any module imports from Powertools."""
    for name in _LAZY_PACKAGES:
        _register_lazy_package(name)
    if not os.environ.get("POWERTOOLS_DEBUG"):
        # What Powertools' own __init__ does for its package logger: keep its internals quiet.
        package_logger = logging.getLogger("aws_lambda_powertools")
        if not package_logger.handlers:
            package_logger.addHandler(logging.NullHandler())
            package_logger.propagate = False
