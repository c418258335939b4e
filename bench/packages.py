"""Deployment package sizes: the artefacts `make build` makes (ship/build.py, the same Makefiles as
`sam build`), zipped as SAM zips them (deflated), bytecode included since it ships.

- each function: `.aws-sam/build/<LogicalId>/` (its handler directory and the pycs);
- the domain layer and the deps layer: `.aws-sam/build/<Layer>/`, holding `python/`;
The deps layer's budget is 6 MB zipped (issue 16); Lambda's limits are 50 MB zipped for a direct upload,
250 MB unzipped for a function and all its layers.
"""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any

from loyalty_local.template import ROOT
from ship import build

CACHE = ROOT / "bench" / ".cache"
UNZIPPED_LIMIT = 250 * 1024 * 1024
DEPS_ZIPPED_BUDGET = 6_000_000


def zip_tree(root: Path, into: Path) -> dict[str, int]:
    """Zip `root` (deflated, as SAM does); answer zipped and unzipped bytes and the number of files."""
    into.parent.mkdir(parents=True, exist_ok=True)
    files = sorted(p for p in root.rglob("*") if p.is_file())
    with zipfile.ZipFile(into, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for path in files:
            archive.write(path, path.relative_to(root).as_posix())
    return {
        "zipped_bytes": into.stat().st_size,
        "unzipped_bytes": sum(p.stat().st_size for p in files),
        "files": len(files),
    }


def top_packages(site: Path, top: int = 5) -> list[dict[str, Any]]:
    """The largest distributions in an installed layer (unzipped bytes), to see what weighs."""
    sizes: dict[str, int] = {}
    for child in site.iterdir():
        if child.name.endswith((".dist-info", ".egg-info")) or child.name == "__pycache__":
            continue
        files = [child] if child.is_file() else [p for p in child.rglob("*") if p.is_file()]
        sizes[child.name] = sum(p.stat().st_size for p in files)
    ranked = sorted(sizes.items(), key=lambda kv: -kv[1])[:top]
    return [{"package": name, "unzipped_bytes": size} for name, size in ranked]


def measure(*, with_deps: bool = True) -> dict[str, Any]:
    built = build.build_all()
    out: dict[str, Any] = {"functions": {}, "layers": {}}
    work = CACHE / "zips"
    layers = {"DomainLayer": "domain", "DepsLayer": "deps", "DocsLayer": "docs"}
    for logical_id, path in built.items():
        if logical_id in layers:
            continue
        out["functions"][logical_id] = zip_tree(path, work / f"function-{logical_id}.zip")
    for logical_id, name in layers.items():
        if name == "deps" and not with_deps:
            continue
        figures: dict[str, Any] = dict(zip_tree(built[logical_id], work / f"layer-{name}.zip"))
        figures["largest"] = top_packages(built[logical_id] / "python")
        out["layers"][name] = figures
    if "deps" in out["layers"]:
        out["layers"]["deps"]["zipped_budget_bytes"] = DEPS_ZIPPED_BUDGET
        biggest_function = max(f["unzipped_bytes"] for f in out["functions"].values())
        total = biggest_function + sum(layer["unzipped_bytes"] for layer in out["layers"].values())
        out["largest_function_with_layers_unzipped_bytes"] = total
        out["unzipped_limit_bytes"] = UNZIPPED_LIMIT
    return out
