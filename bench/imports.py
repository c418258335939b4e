"""Cold start: each function's import in a Lambda-like python3.12, from the built artefacts, next to
`import boto3` in the same interpreter and path.

The artefacts are what `make build` makes (ship/build.py: bytecode compiled, boto3 left to the runtime);
the harness (ship/harness.py) starts python3.12 with `-I -S` and only the function's directory, the
layers and the runtime's boto3 on sys.path, in Lambda's environment (LAMBDA_TASK_ROOT set: the X-Ray SDK
behaves as deployed). Each figure is the median of N fresh interpreters, timed inside the interpreter
around the import only (the interpreter's own start-up is Lambda's, not ours), in wall-clock time, as
Lambda bills the init phase (see measure); the CPU time is kept beside it.

Budgets (issue 16): an API function's import ≤ 1.5 × `import boto3`, the authorizer's ≤ 1.2 ×.
`first_request_imports_ms` adds what the first request imports on top (boto3's DynamoDB types, the
X-Ray SDK through the tracer, Powertools Parameters): the rest of that cold start, measured the same way.
`-X importtime` names the heaviest packages of the import.
"""

from __future__ import annotations

import json
import statistics
from typing import Any

from ship.harness import Harness

API_BUDGET = 1.5
AUTHORIZER_BUDGET = 1.2
AUTHORIZER = "AuthorizerFunction"

_TIMED = """
import sys, time
sys.path[:0] = {path!r}
started, cpu = time.perf_counter(), time.process_time()
{imports}
print((time.perf_counter() - started) * 1000, (time.process_time() - cpu) * 1000)
"""
_FIRST_REQUEST = (
    "import boto3.dynamodb.types, botocore.config\n"
    "import aws_lambda_powertools.tracing, aws_xray_sdk.core\n"
    "import aws_lambda_powertools.utilities.parameters"
)


def _sample(harness: Harness, logical_id: str, imports: str) -> tuple[float, float] | str:
    """(CPU ms, wall ms) of the import, or the error it raised."""
    code = _TIMED.format(path=harness.sys_path(logical_id), imports=imports)
    done = harness.python(logical_id, ["-c", code])
    if done.returncode != 0:
        return (done.stderr.strip().splitlines() or ["failed"])[-1]
    wall, cpu = (float(x) for x in done.stdout.strip().splitlines()[-1].split())
    return cpu, wall


def _figures(samples: list[float]) -> dict[str, Any]:
    return {"median_ms": round(statistics.median(samples), 1), "samples_ms": [round(s, 1) for s in samples]}


def _module_import(harness: Harness, logical_id: str) -> str:
    return f"import {harness.template.functions()[logical_id].module}"


def heaviest_imports(harness: Harness, logical_id: str, top: int = 5) -> list[dict[str, Any]]:
    """From `-X importtime`: the packages the function's import spends its time in (each module's own
    time, summed by top-level package)."""
    code = _TIMED.format(path=harness.sys_path(logical_id), imports=_module_import(harness, logical_id))
    done = harness.python(logical_id, ["-X", "importtime", "-c", code])
    packages: dict[str, int] = {}
    for line in done.stderr.splitlines():
        if not line.startswith("import time:") or line.count("|") != 2:
            continue
        own, _, name = line.removeprefix("import time:").split("|")
        if own.strip().isdigit():
            package = name.strip().split(".")[0]
            packages[package] = packages.get(package, 0) + int(own)
    best = sorted(packages.items(), key=lambda kv: -kv[1])[:top]
    return [{"module": name, "ms": round(us / 1000, 1)} for name, us in best]


def budget(harness: Harness, logical_id: str) -> float | None:
    if logical_id == AUTHORIZER:
        return AUTHORIZER_BUDGET
    return API_BUDGET if harness.template.functions()[logical_id].routes else None


def measure(runs: int, *, profile: bool = True) -> dict[str, Any]:
    """Each function's import interleaved with `import boto3` (boto3, function, boto3, function ...).

    The figures and the budgets are wall-clock time (time.perf_counter inside the interpreter): Lambda bills
    the init phase by the clock, and the function has its CPU to itself there. Measure on a quiet machine:
    on one shared with other work the wall time also counts waiting, so the CPU time (time.process_time) is
    kept beside each figure (`cpu_median_ms`, `cpu_ratio_to_boto3`); the two agree when nothing else runs."""
    harness = Harness.prepare()
    out: dict[str, Any] = {"runs": runs, "harness": "python3.12 -I -S, built artefacts", "clock": "wall"}
    out["functions"] = {}
    all_boto3: list[tuple[float, float]] = []
    broken: list[str] = []
    for logical_id in harness.template.functions():
        module = _module_import(harness, logical_id)
        boto3: list[tuple[float, float]] = []
        samples: list[tuple[float, float]] = []
        first: list[tuple[float, float]] = []
        error = None
        for _ in range(runs):
            taken = [
                _sample(harness, logical_id, "import boto3"),
                _sample(harness, logical_id, module),
                _sample(harness, logical_id, f"{module}\n{_FIRST_REQUEST}"),
            ]
            errors = [t for t in taken if isinstance(t, str)]
            if errors:
                error = errors[0]
                break
            b, f, r = (t for t in taken if not isinstance(t, str))
            boto3.append(b)
            samples.append(f)
            first.append(r)
        if error is not None:
            out["functions"][logical_id] = {"error": error}
            broken.append(f"{logical_id} did not import: {error}")
            continue
        all_boto3 += boto3
        figures = _figures([wall for _, wall in samples])
        boto3_wall = statistics.median(wall for _, wall in boto3)
        figures["import_boto3_ms"] = round(boto3_wall, 1)
        figures["ratio_to_boto3"] = ratio = round(figures["median_ms"] / boto3_wall, 2)
        figures["first_request_imports_ms"] = round(statistics.median(wall for _, wall in first), 1)
        figures["cpu_median_ms"] = round(statistics.median(cpu for cpu, _ in samples), 1)
        figures["cpu_ratio_to_boto3"] = round(figures["cpu_median_ms"] / statistics.median(c for c, _ in boto3), 2)
        limit = budget(harness, logical_id)
        if limit is not None:
            figures["budget"] = limit
            if ratio > limit:
                broken.append(f"cold import of {logical_id}: {ratio} × import boto3, budget {limit}")
        if profile:
            figures["heaviest"] = {"packages": heaviest_imports(harness, logical_id)}
        out["functions"][logical_id] = figures
    if all_boto3:
        out["import_boto3"] = _figures([wall for _, wall in all_boto3])
        out["import_boto3"]["cpu_median_ms"] = round(statistics.median(cpu for cpu, _ in all_boto3), 1)
    else:
        out["import_boto3"] = {"error": "no sample"}
    out["broken"] = broken
    return out


if __name__ == "__main__":
    import sys

    print(json.dumps(measure(int(sys.argv[1]) if len(sys.argv) > 1 else 5), indent=1))
