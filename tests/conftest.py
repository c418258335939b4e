from __future__ import annotations

import gc
from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.http import Client, LocalStackProcess

# The cyclic garbage collector less often in the test processes (not in the stacks and tools they start).
# A test process holds a large heap (moto's backends, botocore's models, Hypothesis) that each full
# collection walks whole, and with the default thresholds (700, 10, 10) they came every few hundred
# thousand allocations: four integration files (outbox, reports, model, expiry) ran 34 of them, 5 s of
# their 39 s; with these thresholds 1, and 35 s (about 30 MB more at peak). Every object is still
# collected; no test depends on when.
gc.set_threshold(50_000, 10, 10)


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


# The files that take longest, longest first (as `--durations` measured them on a 2-core machine).
# `make test` runs `-n 2 --dist loadfile --no-loadscope-reorder`: xdist hands whole files to the two
# workers in collection order, each worker taking the next file as it runs out, so the long ones start
# first and the many short ones fill in behind them: the two workers finish within seconds of each other
# whichever long file happens to run slow. (xdist's own order, by number of tests, put these files of one
# or two tests each last, where the finish depended on how the last few fell.) Only the order changes:
# every test runs, with the same fixtures.
LONGEST_FIRST = (
    "tests/e2e/test_whatif_year.py",
    "tests/integration/test_jobs_scale_tiers.py",
    "tests/e2e/test_whatif.py",
    "tests/e2e/test_programs_http.py",
    "tests/browser/test_console.py",
    "tests/packaging/test_artefacts.py",
    "tests/integration/test_model.py",
    "tests/e2e/test_local_stack.py",
    "tests/integration/test_emulator.py",
    "tests/e2e/test_simulator.py",
    "tests/e2e/test_whatif_direct.py",
    "tests/integration/test_jobs_scale_expiry.py",
)


def _longest_first(item: pytest.Item) -> int:
    path = item.nodeid.split("::", 1)[0]
    return LONGEST_FIRST.index(path) if path in LONGEST_FIRST else len(LONGEST_FIRST)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    items.sort(key=_longest_first)  # stable: the other files, and each file's tests, keep their order
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
