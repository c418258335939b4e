"""docs/api.md is generated from the OpenAPI document, its examples from a walk of the local stack: the
committed page is what the code writes now, and the README points at it (not at a file outside the repository)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_committed_api_reference_is_what_the_code_writes() -> None:
    run = subprocess.run(
        [sys.executable, "-m", "loyalty_local.api_reference", "--check"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert run.returncode == 0, (run.stdout + run.stderr)[-3000:]


def test_the_readme_links_the_reference_and_no_file_outside_the_repository() -> None:
    readme = (ROOT / "README.md").read_text()
    links = re.findall(r"\]\(([^)#\s]+)", readme)
    assert "docs/api.md" in links
    for link in links:
        if "://" not in link:
            assert (ROOT / link).resolve().is_relative_to(ROOT), link
            assert (ROOT / link).exists(), link
