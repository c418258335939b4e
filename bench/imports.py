"""Cold start: each function's import in a Lambda-like python3.12, from the built artefacts, next to
`import boto3` in the same interpreter and path.

The artefacts are what `make build` makes (ship/build.py: bytecode compiled, boto3 left to the runtime);
the harness (ship/harness.py) starts python3.12 with `-I -S` and only the function's directory, the
layers and the runtime's boto3 on sys.path, in Lambda's environment (LAMBDA_TASK_ROOT set: the X-Ray SDK
behaves as deployed). Each figure is the median of N fresh interpreters, timed inside the interpreter
around the import only (the interpreter's own start-up is Lambda's, not ours).

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
started = time.perf_counter()
{imports}
print((time.perf_counter() - started) * 1000)
"""
_FIRST_REQUEST = (
    "import boto3.dynamodb.types, botocore.config\n"
    "import aws_lambda_powertools.tracing, aws_xray_sdk.core\n"
    "import aws_lambda_powertools.utilities.parameters"
)


def _sample(harness: Harness, logical_id: str, imports: str) -> float | str:
    code = _TIMED.format(path=harness.sys_path(logical_id), imports=imports)
    done = harness.python(logical_id, ["-c", code])
    if done.returncode != 0:
        return (done.stderr.strip().splitlines() or ["failed"])[-1]
    return float(done.stdout.strip().splitlines()[-1])


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
    """Each function's import interleaved with `import boto3` (boto3, function, boto3, function ...), so a
    busy machine slows both sides of a ratio alike; the ratio is of the two medians."""
    harness = Harness.prepare()
    out: dict[str, Any] = {"runs": runs, "harness": "python3.12 -I -S, built artefacts", "functions": {}}
    all_boto3: list[float] = []
    broken: list[str] = []
    for logical_id in harness.template.functions():
        module = _module_import(harness, logical_id)
        boto3: list[float] = []
        samples: list[float] = []
        first: list[float] = []
        error = None
        for _ in range(runs):
            taken = [
                _sample(harness, logical_id, "import boto3"),
                _sample(harness, logical_id, module),
                _sample(harness, logical_id, f"{module}\n{_FIRST_REQUEST}"),
            ]
            if any(isinstance(t, str) for t in taken):
                error = next(t for t in taken if isinstance(t, str))
                break
            boto3.append(float(taken[0]))
            samples.append(float(taken[1]))
            first.append(float(taken[2]))
        if error is not None:
            out["functions"][logical_id] = {"error": error}
            broken.append(f"{logical_id} did not import: {error}")
            continue
        all_boto3 += boto3
        figures = _figures(samples)
        figures["import_boto3_ms"] = round(statistics.median(boto3), 1)
        figures["ratio_to_boto3"] = ratio = round(statistics.median(samples) / statistics.median(boto3), 2)
        figures["first_request_imports_ms"] = round(statistics.median(first), 1)
        limit = budget(harness, logical_id)
        if limit is not None:
            figures["budget"] = limit
            if ratio > limit:
                broken.append(f"cold import of {logical_id}: {ratio} × import boto3, budget {limit}")
        if profile:
            figures["heaviest"] = {"packages": heaviest_imports(harness, logical_id)}
        out["functions"][logical_id] = figures
    out["import_boto3"] = _figures(all_boto3) if all_boto3 else {"error": "no sample"}
    out["broken"] = broken
    return out


if __name__ == "__main__":
    import sys

    print(json.dumps(measure(int(sys.argv[1]) if len(sys.argv) > 1 else 5), indent=1))
