"""Mutation testing of the money code: cosmic-ray over the funnel, the ledger maths and the checkout pricing.

    make mutate                          # part of `make soak`; about an hour on 2 cores
    .venv/bin/python -m bench.mutation --only maths.py --limit 20   # a sample, to try the machinery

Each mutant is one small change of the code (`<` for `<=`, `+` for `-`, a constant plus one, a condition
negated, a loop that never runs); the tests that cover the file run against it and should fail. A mutant
they let through (a survivor) is a test to write or a line to delete: the report lists each with its diff.

cosmic-ray (a maintained mutation tool, in a venv of its own: requirements/mutation.txt) changes the file
on disk and puts it back, so every run works in a fresh copy of the working tree under
`bench/.cache/mutation/`, never in the checkout; the targets run in parallel, a copy each. The tests run
with the project's venv and the copy first on PYTHONPATH (ahead of the editable install). A baseline run of
the tests, unmutated, comes first: a red baseline stops the run. Operators that only make a number into a
type error (`+` for `<<`, `|`, `**`, ...) and `is`/`is not` swaps are left out: they are killed by any test
that runs the line and say nothing about the arithmetic.

Writes bench/mutation.json (committed with the code it measured, as bench/results.json is); `make bench`
shows it beside the other figures, and this module prints the same table.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / "bench" / ".cache" / "mutation"
OUT = ROOT / "bench" / "mutation.json"
MUTATION_VENV = ROOT / ".venv" / "mutation"
PYTHON = ROOT / ".venv" / "bin" / "python"

# file -> the tests that cover it (run with -x: a mutant's first failing test kills it)
TARGETS: dict[str, tuple[str, ...]] = {
    "layers/loyalty/loyalty/ledger/funnel.py": (
        "tests/unit/test_funnel.py",
        "tests/unit/test_ledger.py",
        "tests/integration/test_time_rules.py",
    ),
    "layers/loyalty/loyalty/ledger/maths.py": ("tests/unit/test_ledger.py", "tests/unit/test_funnel.py"),
    "layers/loyalty/loyalty/checkout/pricing.py": ("tests/unit/test_checkout_pricing.py",),
}
EXCLUDED_OPERATORS = (
    r"core/ReplaceBinaryOperator_.*_(BitXor|BitAnd|BitOr|LShift|RShift|Pow)$",
    r"core/ReplaceBinaryOperator_(BitXor|BitAnd|BitOr|LShift|RShift|Pow)_.*",
    r"core/ReplaceComparisonOperator_.*_(Is|IsNot)$",
    r"core/ReplaceComparisonOperator_(Is|IsNot)_.*",
    r"core/RemoveDecorator",
)
TIMEOUT_SECONDS = 180


def _tool(name: str) -> str:
    path = MUTATION_VENV / "bin" / name
    if not path.exists():
        raise SystemExit(f"{path} is missing: `make mutate` installs cosmic-ray (requirements/mutation.txt)")
    return str(path)


def _copy_tree(dest: Path) -> None:
    """The working tree as git sees it (tracked and new files, ignored ones left out), uncommitted edits
    included: a survivor is judged against the tests as they are now."""
    shutil.rmtree(dest, ignore_errors=True)
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],  # noqa: S607 - git on PATH
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.split(b"\0")
    for raw in listed:
        if not raw:
            continue
        source = ROOT / raw.decode()
        if source.is_file():
            target = dest / raw.decode()
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)


def _config(copy: Path, target: str) -> Path:
    tests = " ".join(TARGETS[target])
    command = (
        f"env PYTHONPATH={copy}/layers/loyalty:{copy} {PYTHON} -m pytest -x -q -p no:cacheprovider -p no:xdist "
        f"-o addopts= {tests}"
    )
    excluded = ", ".join(json.dumps(p) for p in EXCLUDED_OPERATORS)
    text = (
        "[cosmic-ray]\n"
        f"module-path = {json.dumps(target)}\n"
        f"timeout = {TIMEOUT_SECONDS}.0\n"
        "excluded-modules = []\n"
        f"test-command = {json.dumps(command)}\n\n"
        "[cosmic-ray.distributor]\n"
        'name = "local"\n\n'
        "[cosmic-ray.filters.operators-filter]\n"
        f"exclude-operators = [{excluded}]\n"
    )
    path = copy / "cosmic-ray.toml"
    path.write_text(text)
    return path


def _run(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=cwd, capture_output=True, text=True, check=False)  # noqa: S603 - our tools


def _limit(session: Path, limit: int) -> None:
    """Keep the first `limit` pending mutants of a session (a sample to try the machinery)."""
    import sqlite3

    with sqlite3.connect(session) as db:
        ids = [row[0] for row in db.execute("SELECT job_id FROM work_items ORDER BY job_id")]
        for job_id in ids[limit:]:
            db.execute("DELETE FROM mutation_specs WHERE job_id = ?", (job_id,))
            db.execute("DELETE FROM work_items WHERE job_id = ?", (job_id,))


def dump_of(target: str) -> str:
    copy = CACHE / Path(target).name.removesuffix(".py")
    return _run([_tool("cosmic-ray"), "dump", str(copy / "session.sqlite")], copy).stdout


def run_target(target: str, limit: int | None = None) -> dict[str, Any]:
    """One file's mutants, in a copy of its own; the counts and every survivor."""
    name = Path(target).name
    copy = CACHE / name.removesuffix(".py")
    _copy_tree(copy)
    config = _config(copy, target)
    session = copy / "session.sqlite"
    started = time.monotonic()
    for step in (
        [_tool("cosmic-ray"), "init", str(config), str(session)],
        [_tool("cr-filter-operators"), str(session), str(config)],
    ):
        done = _run(step, copy)
        if done.returncode != 0:
            return {"error": f"{' '.join(step[:2])}: {done.stderr.strip()[-500:]}"}
    if limit is not None:
        _limit(session, limit)
    baseline = _run([_tool("cosmic-ray"), "baseline", str(config)], copy)
    if baseline.returncode != 0:
        return {"error": f"the tests fail without a mutant: {(baseline.stdout + baseline.stderr).strip()[-800:]}"}
    done = _run([_tool("cosmic-ray"), "exec", str(config), str(session)], copy)
    if done.returncode != 0:
        return {"error": f"cosmic-ray exec: {done.stderr.strip()[-500:]}"}
    return {"tests": list(TARGETS[target]), "seconds": round(time.monotonic() - started), **summarise(dump_of(target))}


def summarise(dump: str) -> dict[str, Any]:
    """cosmic-ray's dump (one JSON [work item, result] per line) -> counts and the survivors."""
    counts: dict[str, Any] = {"mutants": 0, "killed": 0, "survived": 0, "incompetent": 0, "timeout": 0, "pending": 0}
    skipped = 0
    survivors: list[dict[str, Any]] = []
    for line in dump.splitlines():
        if not line.strip():
            continue
        item, result = json.loads(line)
        if result is not None and result.get("worker_outcome") == "skipped":
            skipped += 1  # an operator the filter leaves out (EXCLUDED_OPERATORS)
            continue
        counts["mutants"] += 1
        if result is None:
            counts["pending"] += 1
            continue
        outcome = result.get("test_outcome")
        if result.get("worker_outcome") == "timeout":
            counts["timeout"] += 1
        elif outcome == "killed":
            counts["killed"] += 1
        elif outcome == "survived":
            counts["survived"] += 1
            mutation = item["mutations"][0]
            survivors.append(
                {
                    "line": mutation["start_pos"][0],
                    "operator": mutation["operator_name"].removeprefix("core/"),
                    "diff": "\n".join(_changed_lines(result.get("diff") or "")),
                }
            )
        else:
            counts["incompetent"] += 1
    decided = counts["killed"] + counts["survived"]
    counts["score"] = round(counts["killed"] / decided, 3) if decided else None
    survivors.sort(key=lambda s: s["line"])
    return {**counts, "filtered_out": skipped, "survivors": survivors}


def _changed_lines(diff: str) -> list[str]:
    return [d for d in diff.splitlines() if d[:1] in "+-" and d[:3] not in ("+++", "---")]


def measure(only: list[str] | None = None, limit: int | None = None, workers: int = 2) -> dict[str, Any]:
    targets = [t for t in TARGETS if not only or Path(t).name in only]
    with ThreadPoolExecutor(max_workers=workers) as pool:
        found = dict(zip(targets, pool.map(lambda t: run_target(t, limit), targets), strict=True))
    return {
        "tool": "cosmic-ray",
        "sample": limit,
        "excluded_operators": list(EXCLUDED_OPERATORS),
        "files": {t.removeprefix("layers/loyalty/"): figures for t, figures in found.items()},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.mutation", description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="+", help="file names among the targets (funnel.py maths.py pricing.py)")
    parser.add_argument("--limit", type=int, help="the first N mutants of each file only (a sample; not saved)")
    parser.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1))
    parser.add_argument("--report", action="store_true", help="summarise the last run's sessions again, run nothing")
    args = parser.parse_args(argv)
    if args.report:
        previous = json.loads(OUT.read_text()) if OUT.is_file() else {"files": {}}
        for target in TARGETS:
            name = target.removeprefix("layers/loyalty/")
            seconds = previous["files"].get(name, {}).get("seconds")
            previous["files"][name] = {"tests": list(TARGETS[target]), "seconds": seconds, **summarise(dump_of(target))}
        results = {**previous, "tool": "cosmic-ray", "excluded_operators": list(EXCLUDED_OPERATORS)}
    else:
        results = measure(args.only, args.limit, args.workers)
    from bench.report import mutation

    print(mutation({"mutation": results}))
    broken = [f"{name}: {f['error']}" for name, f in results["files"].items() if "error" in f]
    if args.limit is None and not args.only and not broken:
        OUT.write_text(json.dumps(results, indent=1) + "\n")
        print(f"wrote {OUT.relative_to(ROOT)}", file=sys.stderr)
    for problem in broken:
        print(f"error: {problem}", file=sys.stderr)
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main())
