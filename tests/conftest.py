from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from appliance import config
from appliance.runtime import redis_server
from appliance.store import client
from appliance.tools.client import Client
from tests.box import Box
from tests.fakeprinter import FakePrinter


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The card image's boots run last, with the machine to themselves: its build (``.ci/run``
    starts it in the background) has then had the whole host suite's time."""
    items.sort(key=lambda item: item.nodeid.startswith("tests/test_image.py"))


@pytest.fixture
def box(tmp_path: Path) -> Iterator[Box]:
    """A running box of its own, no printer configured."""
    b = Box(tmp_path / "box").start()
    yield b
    b.stop()


@pytest.fixture(scope="module")
def shared_box(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Box]:
    """One running box for a module of tests that do not hurt it."""
    b = Box(tmp_path_factory.mktemp("shared") / "box").start()
    yield b
    b.stop()


@pytest.fixture(scope="module")
def tablet(shared_box: Box, request: pytest.FixtureRequest) -> Client:
    """A tablet paired with the module's shared box, named for the module."""
    return shared_box.client(f"{request.module.__name__.rsplit('.', 1)[-1].removeprefix('test_')}-tablet")


@pytest.fixture
def printer() -> Iterator[FakePrinter]:
    p = FakePrinter()
    yield p
    p.stop()


@pytest.fixture
def make_printer() -> Iterator:
    made: list[FakePrinter] = []

    def make(**options) -> FakePrinter:
        p = FakePrinter(**options)
        made.append(p)
        return p

    yield make
    for p in made:
        p.stop()


@pytest.fixture
def redis_only(tmp_path: Path):
    """A real private Redis, for service-level tests without HTTP."""
    settings = config.load(tmp_path / "redis")
    process = redis_server.start(settings)
    yield client.connect(settings)
    process.terminate()
    process.wait(10)
