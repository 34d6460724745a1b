from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType

import pytest

from appload import cold_start
from support import IdentityProvider, KeyPair, env_for, rsa_pair

FIXTURES = Path(__file__).resolve().parents[2] / "shared" / "entra-fixtures"


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
