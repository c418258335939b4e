"""Cold import: the time to import each function's module in a fresh interpreter, next to `import boto3`.

Each figure is the median of N fresh interpreters (after one unmeasured run that leaves the bytecode
cached, as a deployed package has it), timed inside the interpreter around the import only, so the
interpreter's own start-up is not in it. The environment is empty of AWS settings: importing a handler
must need neither AWS nor env vars. `-X importtime` names the heaviest top-level imports of each.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

from loyalty_local.template import ROOT

_MARK = "bench: import starts"
_LOAD = """
import importlib.util, sys, time
sys.stderr.write({mark!r} + "\\n")
started = time.perf_counter()
spec = importlib.util.spec_from_file_location("app", {path!r})
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
print((time.perf_counter() - started) * 1000)
"""

_BOTO3 = """
import sys, time
sys.stderr.write({mark!r} + "\\n")
started = time.perf_counter()
import boto3
print((time.perf_counter() - started) * 1000)
"""


def function_sources() -> dict[str, Path]:
    return {p.parent.name: p for p in sorted((ROOT / "functions").glob("*/app.py"))}


def _env() -> dict[str, str]:
    keep = ("PATH", "HOME", "LANG", "LC_ALL", "SYSTEMROOT")
    return {k: v for k, v in os.environ.items() if k in keep}


def _run(code: str, extra: list[str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - our own interpreter, our own code
        [sys.executable, *(extra or []), "-c", code],
        capture_output=True,
        text=True,
        env=_env(),
        cwd=str(ROOT),
        timeout=120,
        check=False,
    )


def _time(code: str, runs: int) -> dict[str, Any]:
    _run(code)  # bytecode written (a deployed package is compiled at its first cold start too; see README)
    samples = []
    for _ in range(runs):
        done = _run(code)
        if done.returncode != 0:
            return {"error": done.stderr.strip().splitlines()[-1] if done.stderr.strip() else "failed"}
        samples.append(float(done.stdout.strip().splitlines()[-1]))
    return {"median_ms": round(statistics.median(samples), 1), "samples_ms": [round(s, 1) for s in samples]}


def heaviest_imports(code: str, top: int = 5) -> dict[str, list[dict[str, Any]]]:
    """From `-X importtime`: what app.py imports itself (grouped by package), and the heaviest packages
    loaded at any depth (each package's own first import, its dependencies included)."""
    done = _run(code, ["-X", "importtime"])
    direct: dict[str, int] = {}
    packages: dict[str, int] = {}
    lines = done.stderr.splitlines()
    if _MARK in lines:  # what the interpreter imported for itself before does not count
        lines = lines[lines.index(_MARK) + 1 :]
    for line in lines:
        if not line.startswith("import time:") or line.count("|") != 2:
            continue
        _, cumulative, name = line.removeprefix("import time:").split("|")
        if not cumulative.strip().isdigit():
            continue  # the header
        module = name.strip()
        if not name.startswith("   "):  # imported by app.py itself
            package = module.split(".")[0]
            direct[package] = direct.get(package, 0) + int(cumulative)
        if "." not in module and not module.startswith("_"):
            packages[module] = max(packages.get(module, 0), int(cumulative))

    def ranked(totals: dict[str, int]) -> list[dict[str, Any]]:
        best = sorted(totals.items(), key=lambda kv: -kv[1])[:top]
        return [{"module": name, "ms": round(us / 1000, 1)} for name, us in best]

    return {"direct": ranked(direct), "packages": ranked(packages)}


def measure(runs: int, *, profile: bool = True) -> dict[str, Any]:
    boto3 = _time(_BOTO3.format(mark=_MARK), runs)
    out: dict[str, Any] = {"runs": runs, "import_boto3": boto3, "functions": {}}
    for name, path in function_sources().items():
        code = _LOAD.format(path=str(path), mark=_MARK)
        figures = _time(code, runs)
        if "median_ms" in figures and "median_ms" in boto3:
            figures["ratio_to_boto3"] = round(figures["median_ms"] / boto3["median_ms"], 2)
        if profile:
            figures["heaviest"] = heaviest_imports(code)
        out["functions"][name] = figures
    return out
