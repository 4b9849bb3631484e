from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from streams.broker import EmbeddedBroker
from streams.testing import Deployment, new_deployment


@pytest.fixture(scope="session")
def broker() -> Iterator[EmbeddedBroker]:
    """One embedded broker for the whole session; tests isolate by topic prefix."""
    with EmbeddedBroker() as running:
        yield running


@pytest.fixture
def deployment(broker: EmbeddedBroker, tmp_path: Path) -> Deployment:
    """A fresh set of topics on the session broker."""
    return new_deployment(broker.bootstrap, tmp_path)
