"""A real OpenID provider on loopback, once per test session (see local_provider.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.oidc.local_provider import LocalProvider, local_provider


@pytest.fixture(scope="session")
def oidc_provider() -> Iterator[LocalProvider]:
    with local_provider() as provider:
        yield provider
