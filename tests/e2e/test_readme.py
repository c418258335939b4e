"""The README as a newcomer meets it: short, current, and its walk true.

The walk is the README's shell block after the marker `<!-- walk -->` (docs/tour.md has a longer one, the
rest of the API). Each runs here as written, through bash and curl, against a fresh local stack (only
`localhost:3000` becomes the stack's address). Under each
command the README shows its answer on a `#=>` line: the status, then the figures that matter as JSON.
Every answer must have that status and hold those figures (an object's named fields, recursively; a list
item for item), so a walk that breaks itself (a member erased before the till) or claims what it does not
show (an expiry run that expires nothing) fails here.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.http import ROOT, LocalStackProcess

README = ROOT / "README.md"
WALKS = [README, ROOT / "docs/tour.md"]
MARKER = "<!-- walk -->"
SHOWN = "#=> "


def walk_block(text: str) -> str:
    """The ```sh block right after the marker."""
    after = text.split(MARKER, 1)
    assert len(after) == 2, f"the README has no {MARKER} marker before its walk"
    found = re.match(r"\s*```sh\n(.*?)\n```", after[1], flags=re.S)
    assert found, "the walk marker is not followed by a ```sh block"
    return found.group(1)


def shown_answers(block: str) -> list[tuple[str, int, Any]]:
    """(the command above, status, figures) for every `#=>` line of the block."""
    lines = block.splitlines()
    shown = []
    for number, line in enumerate(lines):
        if not line.startswith(SHOWN):
            continue
        status, _, figures = line[len(SHOWN) :].partition(" ")
        above = lines[number - 1] if number else ""
        assert above.strip() and not above.lstrip().startswith("#"), f"`{line}` does not follow a command"
        # the command may span lines: its first line is the last one starting with curl
        start = max(i for i in range(number) if lines[i].startswith("curl "))
        shown.append(("\n".join(lines[start:number]), int(status), json.loads(figures) if figures else None))
    return shown


def holds(answer: Any, figures: Any, where: str = "answer") -> list[str]:
    """What `answer` lacks of `figures`: an object's named fields, a list item for item, a value equal."""
    if isinstance(figures, dict):
        if not isinstance(answer, dict):
            return [f"{where}: {answer!r} is not an object"]
        missing = []
        for name, value in figures.items():
            if name not in answer:
                missing.append(f"{where}.{name}: absent")
            else:
                missing += holds(answer[name], value, f"{where}.{name}")
        return missing
    if isinstance(figures, list):
        if not isinstance(answer, list) or len(answer) != len(figures):
            return [f"{where}: {answer!r} is not a list of {len(figures)}"]
        return [m for i, (a, f) in enumerate(zip(answer, figures, strict=True)) for m in holds(a, f, f"{where}[{i}]")]
    return [] if answer == figures else [f"{where}: {answer!r}, the README says {figures!r}"]


@pytest.fixture
def fresh() -> Iterator[LocalStackProcess]:
    process = LocalStackProcess()
    yield process
    process.stop()


def run_walk(block: str, port: int, out: Path) -> list[tuple[int, Any]]:
    """The block through bash with every curl's status and body kept (the user sees the body only)."""
    script = "\n".join(
        [
            "set -u",
            "calls=0",
            f'curl() {{ calls=$((calls+1)); command curl -o "{out}/$calls.body" -w "%{{http_code}}" "$@" '
            f'> "{out}/$calls.status"; }}',
            block.replace("localhost:3000", f"127.0.0.1:{port}"),
        ]
    )
    done = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    answers = []
    for n in range(1, len(list(out.glob("*.status"))) + 1):
        raw = (out / f"{n}.body").read_bytes()
        answers.append((int((out / f"{n}.status").read_text()), json.loads(raw) if raw.strip() else None))
    return answers


@pytest.mark.skipif(shutil.which("curl") is None, reason="the walk is curl commands")
@pytest.mark.parametrize("page", WALKS, ids=lambda p: p.name)
def test_the_walk_runs_on_a_fresh_stack_and_every_answer_is_what_it_shows(fresh, tmp_path, page):
    block = walk_block(page.read_text())
    shown = shown_answers(block)
    answers = run_walk(block, fresh.port, tmp_path)
    assert len(answers) == block.count("\ncurl ") + block.startswith("curl "), "a curl ran that the block does not show"
    assert len(answers) == len(shown), f"{len(answers)} curl calls ran, {len(shown)} answers are shown"
    for (command, status, figures), (got_status, body) in zip(shown, answers, strict=True):
        assert got_status == status, f"{command}\n answered {got_status}: {body}"
        if figures is not None:  # a `#=>` line with a status alone claims only the status
            assert not holds(body, figures), f"{command}\n answered {body}\n {holds(body, figures)}"


def test_the_walk_covers_a_members_life_and_ends_at_the_console():
    """Enrol, earn, read, a reward at the till, the ledger, a monthly job that does something, the console."""
    block = walk_block(README.read_text())
    routes = [re.search(r"(?:-X (\w+) )?localhost:3000(/[^ '\"?]*)", c) for c, _, _ in shown_answers(block)]
    called = {(m.group(1) or "GET", m.group(2)) for m in routes if m}
    for needed in [
        ("POST", "/v1/members"),
        ("POST", "/v1/earn"),
        ("POST", "/v1/checkout/orders"),
        ("POST", "/_local/jobs/expiry"),
    ]:
        assert needed in called, needed
    assert any(method == "GET" and re.fullmatch(r"/v1/members/[^/]+", path) for method, path in called)
    assert any(method == "GET" and path.endswith("/ledger") for method, path in called)
    expiry = next(f for c, _, f in shown_answers(block) if "/_local/jobs/expiry" in c)
    assert expiry["points_expired"] > 0, "the walk's expiry run must expire something"
    assert "http://localhost:3000/console" in block  # the page itself: tests/e2e/test_console_http.py


def test_the_readme_is_short_current_and_says_where_to_go_next():
    text = README.read_text()
    assert len(text.splitlines()) <= 120, "the README is the front door: what it is, two commands, the walk, links"
    for history in (r"issue \d+", r"\b[0-9a-f]{7}\b`", "the run before", "until issue"):
        assert not re.search(history, text), f"history in the README: {history}"
    for command in ("make run", "make test", "make seed PORT="):
        assert command in text, command
    links = re.findall(r"\]\(([^)#\s]+)(#[^)\s]*)?\)", text)
    targets = {path for path, _ in links}
    for needed in (
        "docs/design.md",
        "docs/api.md",
        "docs/console.md",
        "bench/README.md",
        "docs/development.md",
        "docs/tour.md",
    ):
        assert needed in targets, needed
    for path, anchor in links:
        if "://" in path:
            continue
        assert (ROOT / path).exists(), path
        if anchor:
            headings = re.findall(r"^#+ (.+)$", (ROOT / path).read_text(), flags=re.M)
            slugs = {re.sub(r"[^\w\- ]", "", h).strip().lower().replace(" ", "-") for h in headings}
            assert anchor[1:] in slugs, f"{path}{anchor}"


def test_the_house_is_a_link_away_and_nothing_was_dropped_moving_it():
    """The design notes and measurements left the README; they are where its links say."""
    design = (ROOT / "docs/design.md").read_text()
    for heading in ("## The house: the domain package by capability", "## Architecture", "## Data model: one table"):
        assert heading in design, heading
    assert "docs/design.md#the-house-the-domain-package-by-capability" in README.read_text()
    bench = (ROOT / "bench/README.md").read_text()
    for figure in ("### The local stack", "What a cold start costs", "make simulate"):
        assert figure in bench, figure
