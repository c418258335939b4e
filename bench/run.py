"""`make bench` / `python -m bench.run [--quick] [--only ops,latency,imports,...,migration] [--baseline REF]`.

Prints the tables (Markdown) and writes the figures as JSON: bench/results.json for a full run (the
committed record), bench/.cache/results-quick.json for a quick one. Exits 1 when a round-trip or a cold-import budget is
broken, a job's summary is not what its data says, or an operation answers other than the contract.
See bench/README.md for what each figure means.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
import warnings
from importlib import metadata
from pathlib import Path
from typing import Any

from bench.localstack import BASELINE_REF
from loyalty_local.template import ROOT

RESULTS = ROOT / "bench" / "results.json"
QUICK_RESULTS = ROOT / "bench" / ".cache" / "results-quick.json"
SECTIONS = ("ops", "latency", "imports", "packages", "jobs", "local", "pool", "webhooks", "replay", "migration")

FULL: dict[str, Any] = {
    "latency_rounds": 300,
    "import_runs": 5,
    "import_profile": True,
    "job_sizes": [1000, 10000],
    "replay_members": 500,
    "replay_groups": [50, 250, 0],
}
QUICK: dict[str, Any] = {
    "latency_rounds": 20,
    "import_runs": 3,
    "import_profile": False,
    "job_sizes": [100, 300],
    "replay_members": 60,
    "replay_groups": [15, 0],
}


def _versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for dist in ("moto", "boto3", "botocore", "aws-lambda-powertools", "pydantic"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:  # pragma: no cover - all are dev dependencies
            out[dist] = "?"
    return out


def _environment() -> dict[str, Any]:
    return {
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
        "versions": _versions(),
    }


def run_sections(
    sections: list[str], settings: dict[str, Any], log: Any, baseline: str | None = None
) -> dict[str, Any]:
    from bench import capacity, world

    results: dict[str, Any] = {}

    def step(name: str) -> float:
        log(f"bench: {name}...")
        return time.perf_counter()

    def done(started: float) -> None:
        log(f"  ({time.perf_counter() - started:.0f} s)")

    if "ops" in sections:
        from bench import operations

        started = step("round trips and capacity per operation")
        with world.moto_world(), world.quiet():
            results.update(operations.measure())
        results["budgets"] = {
            "limits": {k: f"{op} {n}" for k, (op, n) in operations.BUDGETS.items()},
            "broken": operations.broken_budgets(results),
        }
        results["prices"] = {
            "region": capacity.PRICE_REGION,
            "as_of": capacity.PRICES_AS_OF,
            "usd_per_million_write_units": str(capacity.USD_PER_MILLION_WRITE_UNITS),
            "usd_per_million_read_units": str(capacity.USD_PER_MILLION_READ_UNITS),
            "basis": "units computed from item sizes by DynamoDB's rules; moto's ConsumedCapacity kept for comparison",
        }
        done(started)
    if "latency" in sections:
        from bench import latency

        started = step(f"latency ({settings['latency_rounds']} rounds)")
        with world.moto_world(), world.quiet():
            results["latency_ms"] = latency.measure(settings["latency_rounds"])
        done(started)
    if "imports" in sections:
        from bench import imports

        started = step(f"cold imports ({settings['import_runs']} fresh interpreters each)")
        results["cold_import_ms"] = imports.measure(settings["import_runs"], profile=settings["import_profile"])
        done(started)
    if "packages" in sections:
        from bench import packages

        started = step("package sizes (the artefacts of make build, built once per change of their inputs)")
        results["package_bytes"] = packages.measure()
        done(started)
    if "jobs" in sections:
        from bench import monthly

        started = step(f"monthly jobs for {settings['job_sizes']} members")
        with world.quiet():
            results["jobs"] = monthly.measure(settings["job_sizes"])
        done(started)
    if "local" in sections:
        from bench import localstack

        against = f" beside {baseline}'s" if baseline else ""
        started = step(f"the local stack over HTTP, one client{against}")
        results["local_stack"] = localstack.measure(settings is QUICK, baseline, log)
        done(started)
    if "pool" in sections:
        from bench import pool

        started = step("the hot pool: 20 tills into one account's pool beside 20 members alone, over HTTP")
        results["hot_pool"] = pool.measure(settings is QUICK, log)
        done(started)
    if "webhooks" in sections:
        from bench import webhooks

        started = step("webhooks: a burst of events to 5 endpoints, all healthy and then one failing, over HTTP")
        results["webhooks"] = webhooks.measure(settings is QUICK, log)
        done(started)
    if "migration" in sections:
        from bench import migration

        started = step("a programme brought here: a file validated in process, then imported over HTTP")
        results["migration"] = migration.measure(settings is QUICK, log)
        done(started)
    if "replay" in sections:
        from bench import replay

        sizes = settings["replay_groups"]
        started = step(f"the what-if replay of {settings['replay_members']} members in groups of {sizes} (0: all)")
        results["replay"] = replay.measure(settings["replay_members"], sizes, log)
        done(started)
    return results


def failures(results: dict[str, Any]) -> list[str]:
    out = list((results.get("budgets") or {}).get("broken") or [])
    out += list((results.get("jobs") or {}).get("problems") or [])
    out += list((results.get("replay") or {}).get("problems") or [])
    out += list((results.get("cold_import_ms") or {}).get("broken") or [])
    from bench import localstack

    out += localstack.broken_budgets(results)
    from bench import pool

    out += pool.broken_budgets(results)
    from bench import webhooks

    out += webhooks.broken_budgets(results)
    if "migration" in results:
        from bench import migration

        out += migration.broken_budgets(results["migration"])
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small samples and job sizes (for development)")
    parser.add_argument("--only", default=",".join(SECTIONS), help=f"comma-separated sections of {', '.join(SECTIONS)}")
    parser.add_argument("--output", type=Path, help="where to write the JSON (default: see the module docstring)")
    parser.add_argument(
        "--baseline",
        default=None,
        help="the commit whose local stack is measured beside this one, in the same run (default: "
        f"{BASELINE_REF}, the last before issue 17's speed work; 'none' to skip it)",
    )
    args = parser.parse_args(argv)
    sections = [s.strip() for s in args.only.split(",") if s.strip()]
    unknown = set(sections) - set(SECTIONS)
    if unknown:
        parser.error(f"unknown sections: {', '.join(sorted(unknown))}")
    settings = QUICK if args.quick else FULL
    output = args.output or (QUICK_RESULTS if args.quick or set(sections) != set(SECTIONS) else RESULTS)

    warnings.filterwarnings("ignore", message="No application metrics to publish")

    def log(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    from bench import world

    environment = _environment()
    generated_at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    started = time.perf_counter()
    try:
        baseline = None if (args.baseline or "").lower() == "none" else (args.baseline or BASELINE_REF)
        figures = run_sections(sections, settings, log, baseline)
    except world.BenchError as exc:
        log(f"bench: an operation did not answer as the contract says: {exc}")
        return 1
    results: dict[str, Any] = {
        "generated_at": generated_at,
        "mode": "quick" if args.quick else "full",
        "settings": settings,
        "sections": sections,
        "environment": environment,
        **figures,
        "seconds": round(time.perf_counter() - started),
    }
    previous = None  # the last full run, shown beside this one
    if RESULTS.is_file():
        try:
            previous = json.loads(RESULTS.read_text(encoding="utf-8"))
        except ValueError:
            previous = None
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(results, indent=2, sort_keys=False) + "\n", encoding="utf-8")
    from bench import mutation

    if mutation.OUT.is_file():  # the last `make mutate` (part of `make soak`): its survivors beside these figures
        results["mutation"] = json.loads(mutation.OUT.read_text(encoding="utf-8"))

    from bench.report import render

    print(render(results, previous))
    log(f"bench: figures written to {output}")
    broken = failures(results)
    for problem in broken:
        log(f"bench: FAILED: {problem}")
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main())
