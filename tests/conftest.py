from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.http import Client, LocalStackProcess


@pytest.fixture
def aws() -> Iterator[dict[str, Any]]:
    """moto with every resource of template.yaml, the demo programme, the local keys and partners."""
    from tests.support.aws import mocked_aws

    with mocked_aws() as resources:
        yield resources


@pytest.fixture(scope="session")
def stack() -> Iterator[LocalStackProcess]:
    """One local stack (as `make run` starts it) for the end-to-end tests of this worker (each xdist
    worker has its own; the tests use their own member ids and put the clock back)."""
    process = LocalStackProcess()
    yield process
    process.stop()


@pytest.fixture
def api(stack: LocalStackProcess) -> Iterator[Client]:
    """An HTTP client of the local stack; the clock returns to real time after each test."""
    yield stack.client
    stack.client.set_clock(None)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/e2e/" in str(item.fspath) or "tests/browser/" in str(item.fspath):
            item.add_marker(pytest.mark.e2e)
        if "tests/browser/" in str(item.fspath):
            item.add_marker(pytest.mark.browser)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Where the console's screenshots are, or why the browser tests did not run (and how to run them)."""
    from tests.browser.conftest import SCREENSHOTS

    skipped = [r for r in terminalreporter.stats.get("skipped", []) if "no Chromium" in str(r.longrepr)]
    if skipped:
        reason = str(skipped[0].longrepr[2]) if isinstance(skipped[0].longrepr, tuple) else str(skipped[0].longrepr)
        reason = reason.removeprefix("Skipped: ")
        terminalreporter.write_line(f"BROWSER TESTS SKIPPED ({len(skipped)}): {reason}", yellow=True)
    elif SCREENSHOTS.is_dir() and any(SCREENSHOTS.iterdir()):
        terminalreporter.write_line(f"console screenshots: {SCREENSHOTS}")
