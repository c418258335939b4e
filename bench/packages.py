"""Deployment package sizes, as SAM would zip them.

- each function: a zip of functions/<name>/ (CodeUri), bytecode caches left out;
- the domain layer: layers/loyalty/loyalty zipped as python/loyalty/ (where Lambda's Python runtime
  looks in a layer);
- the deps layer: `pip install -r layers/deps/requirements.txt` for the Lambda runtime (Python 3.12,
  arm64, wheels only) into python/, zipped. The install is cached under bench/.cache/, keyed by the
  requirements' content, so a re-run only zips.
Lambda's limits: 50 MB zipped for a direct upload, 250 MB unzipped for a function and all its layers.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

from loyalty_local.template import ROOT

CACHE = ROOT / "bench" / ".cache"
PIP_PLATFORM = ["--platform", "manylinux2014_aarch64", "--implementation", "cp", "--python-version", "3.12"]
UNZIPPED_LIMIT = 250 * 1024 * 1024
SKIP_DIRS = {"__pycache__", ".mypy_cache", ".pytest_cache"}


def _files(root: Path) -> list[Path]:
    return sorted(
        p
        for p in root.rglob("*")
        if p.is_file() and not SKIP_DIRS & set(p.relative_to(root).parts) and p.suffix != ".pyc"
    )


def zip_tree(root: Path, into: Path, prefix: str = "") -> dict[str, int]:
    """Zip `root` (deflated, as SAM does) under `prefix`; answer zipped and unzipped bytes."""
    into.parent.mkdir(parents=True, exist_ok=True)
    unzipped = 0
    with zipfile.ZipFile(into, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for path in _files(root):
            archive.write(path, f"{prefix}{path.relative_to(root).as_posix()}")
            unzipped += path.stat().st_size
    return {"zipped_bytes": into.stat().st_size, "unzipped_bytes": unzipped, "files": len(_files(root))}


def deps_layer(requirements: Path) -> tuple[Path, bool]:
    """The deps layer's python/ directory, installed once per content of requirements.txt."""
    digest = hashlib.sha256(requirements.read_bytes() + " ".join(PIP_PLATFORM).encode()).hexdigest()[:16]
    target = CACHE / f"deps-{digest}"
    if (target / ".complete").exists():
        return target, True
    shutil.rmtree(target, ignore_errors=True)
    done = subprocess.run(  # noqa: S603 - pip of this interpreter, with our requirements
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "-r",
            str(requirements),
            "-t",
            str(target / "python"),
            *PIP_PLATFORM,
            "--only-binary=:all:",
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    if done.returncode != 0:
        raise RuntimeError(f"pip could not build the deps layer:\n{done.stdout}\n{done.stderr}")
    (target / ".complete").touch()
    return target, False


def top_packages(site: Path, top: int = 5) -> list[dict[str, Any]]:
    """The largest distributions in an installed layer (unzipped bytes), to see what weighs."""
    sizes: dict[str, int] = {}
    for child in site.iterdir():
        if child.name.endswith((".dist-info", ".egg-info")) or child.name in SKIP_DIRS:
            continue
        files = [child] if child.is_file() else [p for p in child.rglob("*") if p.is_file()]
        sizes[child.name] = sum(p.stat().st_size for p in files)
    ranked = sorted(sizes.items(), key=lambda kv: -kv[1])[:top]
    return [{"package": name, "unzipped_bytes": size} for name, size in ranked]


def measure(*, with_deps: bool = True) -> dict[str, Any]:
    out: dict[str, Any] = {"functions": {}, "layers": {}}
    work = CACHE / "zips"
    for fn_dir in sorted(p for p in (ROOT / "functions").iterdir() if (p / "app.py").is_file()):
        out["functions"][fn_dir.name] = zip_tree(fn_dir, work / f"function-{fn_dir.name}.zip")
    out["layers"]["domain"] = zip_tree(
        ROOT / "layers" / "loyalty" / "loyalty", work / "layer-domain.zip", "python/loyalty/"
    )
    if with_deps:
        target, cached = deps_layer(ROOT / "layers" / "deps" / "requirements.txt")
        deps: dict[str, Any] = dict(zip_tree(target / "python", work / "layer-deps.zip", "python/"))
        deps["cached_install"] = cached
        deps["largest"] = top_packages(target / "python")
        out["layers"]["deps"] = deps
        biggest_function = max(f["unzipped_bytes"] for f in out["functions"].values())
        total = biggest_function + deps["unzipped_bytes"] + out["layers"]["domain"]["unzipped_bytes"]
        out["largest_function_with_layers_unzipped_bytes"] = total
        out["unzipped_limit_bytes"] = UNZIPPED_LIMIT
    return out
