from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from support import IdentityProvider, KeyPair, rsa_pair

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
