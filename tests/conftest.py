from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType

import pytest
from hypothesis import settings

from appload import cold_start
from support import IdentityProvider, KeyPair, env_for, rsa_pair

FIXTURES = Path(__file__).resolve().parents[2] / "shared" / "entra-fixtures"

# Every property test draws the same examples on every run and keeps no example database, so CI
# cannot fail on an example no earlier run has seen: a red CI run is always reproducible. New
# examples are drawn on purpose, with `make fuzz` (HYPOTHESIS_PROFILE=explore).
settings.register_profile("reproducible", derandomize=True, database=None)
settings.register_profile("explore", derandomize=False, database=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "reproducible"))


@pytest.fixture
def idp() -> Iterator[IdentityProvider]:
    provider = IdentityProvider()
    yield provider
    provider.close()


@pytest.fixture
def signer() -> KeyPair:
    return rsa_pair("key-1", slot=0)


@pytest.fixture
def entra_fixtures() -> Path:
    if not FIXTURES.is_dir():
        pytest.skip("../shared/entra-fixtures is absent (it is not part of a user's clone)")
    return FIXTURES


@pytest.fixture
def load_app(idp: IdentityProvider, signer: KeyPair, monkeypatch: pytest.MonkeyPatch) -> Callable[..., ModuleType]:
    """Cold-start the handler against the loopback issuer (``signer`` published), with extra variables."""
    idp.publish(signer)

    def load(**env: str) -> ModuleType:
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        return cold_start(env_for(idp, **env))

    return load


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """One line for every skip, grouped by reason (``-rs`` would print a line per skipped test).

    Most skips have one cause, e.g. ``../shared/entra-fixtures`` absent in a user's clone, or the
    ``sam local`` tests without ``SAM_LOCAL=1``: fifty identical lines hid the failures.
    """
    skipped = terminalreporter.stats.get("skipped", [])
    if not skipped:
        return
    reasons: Counter[str] = Counter()
    for report in skipped:
        longrepr = report.longrepr
        reason = longrepr[2] if isinstance(longrepr, tuple) and len(longrepr) == 3 else str(longrepr)
        reasons[reason.removeprefix("Skipped: ")] += 1
    groups = "; ".join(f"{reason} ({count})" for reason, count in reasons.most_common())
    terminalreporter.write_line(f"{len(skipped)} skipped: {groups}", yellow=True)
