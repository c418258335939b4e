"""A Lambda-like python3.12 for the built artefacts: what the packaging test and the bench run.

Lambda's python3.12 runtime puts on sys.path the function's directory (/var/task), the layers extracted
into /opt (their `python/` directories), then the runtime's own boto3 and botocore (/var/runtime), then
the standard library. Here the interpreter starts with `-I -S` (no site-packages, no user site, no
PYTHON* variables) and gets exactly that path: a module the artefacts lack is an ImportError here, as it
would be on the first cold start. The environment is Lambda's (LAMBDA_TASK_ROOT, the function's name and
memory, X-Ray's daemon address on loopback) plus the function's variables from template.yaml.

On an x86_64 machine the deps layer's arm64 extension modules (pydantic-core, PyYAML, wrapt) cannot load,
so the harness loads its twin: the same lock installed for this machine's platform. `layer_twin_differences`
proves the two hold the same files but for those compiled modules.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from loyalty_local.template import ROOT, Template
from ship import artefact, build
from ship.python312 import find_python312

CACHE = ROOT / ".aws-sam" / "harness"
LOCK = ROOT / "requirements" / "dev.txt"
# What the python3.12 runtime ships in /var/runtime, pinned at our lock's versions (the versions the tests run).
RUNTIME_PACKAGES = ("boto3", "botocore", "s3transfer", "jmespath", "python-dateutil", "six", "urllib3")
LAYER_ORDER = ("DepsLayer", "DomainLayer")  # template.yaml's Globals.Function.Layers, in order
HOST_IS_ARM64 = platform.machine().lower() in ("aarch64", "arm64")

_BOOT = r"""
import json, os, sys, time, traceback
spec = json.loads(sys.argv[1])
sys.path[:0] = spec["path"]
started = time.perf_counter()
module = __import__(spec["module"])
imported = time.perf_counter()
handler = getattr(module, spec["attribute"])


class Context:
    function_name = os.environ["AWS_LAMBDA_FUNCTION_NAME"]
    function_version = "$LATEST"
    memory_limit_in_mb = int(os.environ["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"])
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:" + function_name
    log_group_name = "/aws/lambda/" + function_name
    log_stream_name = "harness"

    def __init__(self, n):
        self.aws_request_id = "harness-%d" % n
        self._deadline = time.monotonic() + 10

    def get_remaining_time_in_millis(self):
        return int((self._deadline - time.monotonic()) * 1000)


answers = []
for n, event in enumerate(spec["events"]):
    os.environ["_X_AMZN_TRACE_ID"] = "Root=1-5759e988-bd862e3fe1be46a994272%03d;Parent=53995c3f42cd8ad8;Sampled=1" % n
    began = time.perf_counter()
    try:
        answers.append({"result": handler(event, Context(n)), "ms": (time.perf_counter() - began) * 1000})
    except Exception as exc:
        answers.append({"error": type(exc).__name__, "message": str(exc), "traceback": traceback.format_exc()})
modules = sorted({getattr(m, "__file__", None) or "" for m in list(sys.modules.values())} - {""})
with open(spec["out"], "w") as out:
    json.dump({"import_ms": (imported - started) * 1000, "answers": answers, "module_files": modules}, out)
"""


def _lock_entries(names: tuple[str, ...]) -> str:
    """The lock's entries (pins and hashes) of `names`, as a requirements file."""
    wanted = {n.lower() for n in names}
    out: list[str] = []
    keep = False
    for line in LOCK.read_text().splitlines():
        if line and not line.startswith((" ", "#")):
            keep = line.split("==")[0].strip().lower() in wanted
        if keep and not line.strip().startswith("#"):
            out.append(line)
    return "\n".join(out) + "\n"


def _cached(name: str, digest: str) -> tuple[Path, bool]:
    target = CACHE / f"{name}-{digest[:16]}"
    return target, (target / ".complete").is_file()


def runtime_site() -> Path:
    """boto3 and what it needs, as the runtime's /var/runtime holds them (pure Python, compiled by 3.12)."""
    requirements = _lock_entries(RUNTIME_PACKAGES)
    target, done = _cached("runtime", hashlib.sha256(requirements.encode()).hexdigest())
    if not done:
        with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as handle:
            handle.write(requirements)
        try:
            site = target / "python"
            artefact.pip_install(Path(handle.name), site)
            artefact.compile_bytecode(site, "/var/runtime")
        finally:
            os.unlink(handle.name)
        (target / ".complete").touch()
    return target / "python"


def host_deps_layer() -> Path:
    """The deps layer this machine can load: the built one on arm64, its twin for this platform elsewhere."""
    built = build.OUT / "DepsLayer" / "python"
    if HOST_IS_ARM64:
        return built
    source = ROOT / "layers" / "deps"
    digest = build.inputs_digest(build.Artefact("DepsLayer", "layer", source))
    target, done = _cached(f"deps-{platform.machine()}", digest)
    if not done:
        artefact.build_deps(source, target, platform=f"manylinux2014_{platform.machine()}")
        (target / ".complete").touch()
    return target / "python"


def layer_twin_differences(arm64: Path, twin: Path) -> list[str]:
    """Files present in one layer and not the other, but for compiled extension modules (`.so`)."""

    def files(root: Path) -> set[str]:
        return {
            str(p.relative_to(root))
            for p in root.rglob("*")
            if p.is_file()
            and ".so" not in p.suffixes
            and p.parent.name != "__pycache__"
            and not str(p.relative_to(root)).endswith(".dist-info/WHEEL")
            and not str(p.relative_to(root)).endswith(".dist-info/RECORD")
        }

    a, b = files(arm64), files(twin)
    return sorted((a - b) | (b - a))


@dataclass
class Harness:
    """Built artefacts (build.build_all) plus the runtime's boto3, ready to run functions in python3.12."""

    template: Template
    built: dict[str, Path]
    runtime: Path
    deps: Path

    @classmethod
    def prepare(cls, template: Template | None = None) -> Harness:
        built = build.build_all()
        return cls(template or Template(), built, runtime_site(), host_deps_layer())

    def layers(self, logical_id: str) -> list[str]:
        """The function's layers in Lambda's order: Globals' (LAYER_ORDER), then its own (SAM appends them)."""
        own = (self.template.resources[logical_id].get("Properties") or {}).get("Layers") or []
        return [*LAYER_ORDER, *(layer["Ref"] for layer in own)]

    def sys_path(self, logical_id: str) -> list[str]:
        paths = {name: self.built[name] / "python" for name in self.layers(logical_id)}
        paths["DepsLayer"] = self.deps
        # Lambda extracts later layers over earlier ones into /opt: the last layer is searched first here
        ordered = reversed(self.layers(logical_id))
        return [str(self.built[logical_id]), *(str(paths[name]) for name in ordered), str(self.runtime)]

    def environment(self, logical_id: str, extra: dict[str, str] | None = None) -> dict[str, str]:
        function = self.template.functions()[logical_id]
        resource = self.template.resources[logical_id].get("Properties") or {}
        memory = resource.get("MemorySize") or (self.template.raw.get("Globals") or {})["Function"]["MemorySize"]
        return {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "LANG": "en_US.UTF-8",
            "TZ": ":UTC",
            "AWS_EXECUTION_ENV": "AWS_Lambda_python3.12",
            "AWS_LAMBDA_FUNCTION_NAME": logical_id,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(memory),
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "LAMBDA_TASK_ROOT": str(self.built[logical_id]),
            "LAMBDA_RUNTIME_DIR": str(self.runtime),
            "AWS_REGION": "us-east-1",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_XRAY_CONTEXT_MISSING": "LOG_ERROR",
            "AWS_XRAY_DAEMON_ADDRESS": "127.0.0.1:2000",  # loopback: segments go nowhere else
            "_HANDLER": f"{function.module}.{function.attribute}",
            **function.environment,
            **(extra or {}),
        }

    def python(
        self, logical_id: str, args: list[str], extra_env: dict[str, str] | None = None, *, cwd: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        """python3.12 -I -S with `args`, in the function's Lambda environment (its sys.path is the caller's
        to set: `sys_path`)."""
        return subprocess.run(  # noqa: S603 - python3.12 on our own code
            [find_python312(), "-I", "-S", *args],
            env=self.environment(logical_id, extra_env),
            cwd=cwd or tempfile.gettempdir(),
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    def run(
        self,
        logical_id: str,
        events: list[dict[str, Any]],
        *,
        extra_env: dict[str, str] | None = None,
        python_flags: tuple[str, ...] = (),
    ) -> dict[str, Any]:
        """Import the function in a fresh python3.12 and invoke it with each event, in order."""
        function = self.template.functions()[logical_id]
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / "answers.json"
            spec = {
                "path": self.sys_path(logical_id),
                "module": function.module,
                "attribute": function.attribute,
                "events": events,
                "out": str(out),
            }
            done = self.python(logical_id, [*python_flags, "-c", _BOOT, json.dumps(spec)], extra_env, cwd=tmp)
            if done.returncode != 0 or not out.is_file():
                raise RuntimeError(f"{logical_id} did not load in python3.12:\n{done.stderr[-4000:]}")
            result: dict[str, Any] = json.loads(out.read_text())
            result["stdout"], result["stderr"] = done.stdout, done.stderr
            return result


if __name__ == "__main__":
    harness = Harness.prepare()
    print(json.dumps({name: harness.sys_path(name) for name in harness.template.functions()}, indent=1))
    sys.exit(0)
