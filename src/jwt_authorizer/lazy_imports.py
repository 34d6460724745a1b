"""Import the parts of Powertools and urllib3 the authorizer runs, and not the rest, at cold start.

Some packages' ``__init__`` costs more than what the authorizer uses of them:

* ``aws_lambda_powertools/__init__.py`` imports Logger, Metrics and Tracer with their
  dependencies, and ``utilities/data_classes/__init__.py`` imports every event class of every AWS
  service; together they cost more at cold start than PyJWT, cryptography and urllib3.
* ``urllib3/http2/__init__.py`` imports ``importlib.metadata`` (tens of milliseconds) to check
  the version of ``h2`` for an HTTP/2 support that is opt-in; ``urllib3.connection`` imports only
  its ``probe`` submodule.

So a finder at the head of ``sys.meta_path`` gives these packages a loader that creates the module
and leaves its ``__init__`` unexecuted: importing a submodule (``...data_classes.
api_gateway_authorizer_event``, ``urllib3.http2.probe``) loads only that submodule and what it
imports. The first access to any other name of such a package runs its real ``__init__`` (a PEP 562
module ``__getattr__``), so ``from aws_lambda_powertools import Logger``, ``...data_classes import
SQSEvent`` or ``urllib3.http2.inject_into_urllib3()`` anywhere keep working exactly as before, at
the usual price. Nothing is looked up until something imports them.
"""

from __future__ import annotations

import importlib.machinery
import logging
import os
import sys
from collections.abc import Sequence
from types import ModuleType
from typing import Any

DEFERRED_PACKAGES = frozenset(
    {
        "aws_lambda_powertools",
        "aws_lambda_powertools.utilities",
        "aws_lambda_powertools.utilities.data_classes",
        "urllib3.http2",
    }
)
# ``from package import submodule`` statements on the authorizer's import path. Only these names
# are left to the import system to load as submodules; any other name runs the real ``__init__``,
# which may bind an object over a submodule of the same name (``data_classes.event_source`` is a
# function there, not the module) or import one (``aws_lambda_powertools.metrics``).
SUBMODULE_IMPORTS = frozenset({("urllib3.http2", "probe")})


class _DeferredInit:
    """Creates the package as its own loader would, and runs its ``__init__`` on first real use.

    (A loader and a finder by their methods, as the import system calls them: ``importlib.abc``
    itself costs more to import than everything it would save here.)
    """

    def __init__(self, loader: Any) -> None:
        self._loader = loader

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        module: ModuleType | None = self._loader.create_module(spec)
        return module

    def exec_module(self, module: ModuleType) -> None:
        loader, name = self._loader, module.__name__

        def complete(attribute: str) -> Any:
            if (name, attribute) in SUBMODULE_IMPORTS:
                # ``from package import submodule``: let the import system load just that.
                raise AttributeError(attribute)
            delattr(module, "__getattr__")
            loader.exec_module(module)
            return getattr(module, attribute)

        setattr(module, "__getattr__", complete)  # noqa: B010 - a module-level __getattr__ (PEP 562)


class _Finder:
    """Finds the deferred packages where the path finder would, with ``_DeferredInit`` as loader."""

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname not in DEFERRED_PACKAGES:
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path, target)
        if spec is None or spec.loader is None or spec.submodule_search_locations is None:
            return spec  # let the normal import report the problem (or load a plain module)
        spec.loader = _DeferredInit(spec.loader)  # type: ignore[assignment]  # a loader by its methods
        return spec


_FINDER = _Finder()


def register() -> None:
    """Called from the package ``__init__``, before any module imports from Powertools or urllib3."""
    if _FINDER not in sys.meta_path:
        sys.meta_path.insert(0, _FINDER)
    if not os.environ.get("POWERTOOLS_DEBUG"):
        # What Powertools' own __init__ does for its package logger: keep its internals quiet.
        package_logger = logging.getLogger("aws_lambda_powertools")
        if not package_logger.handlers:
            package_logger.addHandler(logging.NullHandler())
            package_logger.propagate = False
