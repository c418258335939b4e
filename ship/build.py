"""`make build` where `sam` is not installed: every function and layer of template.yaml built by its own
Makefile target, exactly as `sam build` runs it (`make -f <CodeUri>/Makefile build-<LogicalId>` with
ARTIFACTS_DIR), into `.aws-sam/build/<LogicalId>/`.

An artefact is rebuilt only when its inputs changed (its directory, the lock it installs, ship/), so the
packaging test and the bench pay for a build once.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from loyalty_local.template import ROOT, TEMPLATE, load_raw

OUT = ROOT / ".aws-sam" / "build"
BUILT_TYPES = {"AWS::Serverless::Function": "CodeUri", "AWS::Serverless::LayerVersion": "ContentUri"}


@dataclass(frozen=True)
class Artefact:
    logical_id: str
    kind: str  # "function" or "layer"
    source: Path


def artefacts(template: Path = TEMPLATE) -> list[Artefact]:
    found = []
    for logical_id, resource in load_raw(template)["Resources"].items():
        uri_key = BUILT_TYPES.get(resource.get("Type", ""))
        if uri_key is None:
            continue
        method = (resource.get("Metadata") or {}).get("BuildMethod")
        if method != "makefile":
            raise SystemExit(f"{logical_id}: BuildMethod {method!r}; this builder runs makefile builds only")
        kind = "function" if uri_key == "CodeUri" else "layer"
        found.append(Artefact(logical_id, kind, (template.parent / resource["Properties"][uri_key]).resolve()))
    return found


def _digest(paths: list[Path]) -> str:
    h = hashlib.sha256()
    for root in paths:
        files = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
        for path in files:
            if "__pycache__" in path.parts or path.suffix == ".pyc":
                continue
            h.update(str(path.relative_to(ROOT)).encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()


def inputs_digest(artefact: Artefact) -> str:
    return _digest([artefact.source, ROOT / "ship" / "artefact.py", ROOT / "ship" / "python312.py"])


def build_one(artefact: Artefact, out: Path = OUT, *, force: bool = False) -> bool:
    """Build one artefact unless its inputs are unchanged; answer whether it was built."""
    target = out / artefact.logical_id
    stamp = out.parent / "ship-stamps" / artefact.logical_id
    digest = inputs_digest(artefact)
    if not force and target.is_dir() and stamp.is_file() and stamp.read_text() == digest:
        return False
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    env = {**os.environ, "ARTIFACTS_DIR": str(target), "PYTHON": sys.executable}
    done = subprocess.run(  # noqa: S603 - make, with the artefact's own Makefile, as sam runs it
        [
            shutil.which("make") or "make",
            "--no-print-directory",
            "-f",
            str(artefact.source / "Makefile"),
            f"build-{artefact.logical_id}",
        ],
        cwd=artefact.source,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        shutil.rmtree(target, ignore_errors=True)
        raise SystemExit(f"{artefact.logical_id} did not build:\n{done.stdout}{done.stderr}")
    stamp.parent.mkdir(parents=True, exist_ok=True)
    stamp.write_text(digest)
    return True


def build_all(out: Path = OUT, *, force: bool = False) -> dict[str, Path]:
    built = {}
    for artefact in artefacts():
        fresh = build_one(artefact, out, force=force)
        print(f"{artefact.logical_id:28} {'built' if fresh else 'unchanged'}", file=sys.stderr)
        built[artefact.logical_id] = out / artefact.logical_id
    return built


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--force", action="store_true", help="rebuild even what is unchanged")
    args = parser.parse_args(argv)
    build_all(args.out, force=args.force)
    return 0


if __name__ == "__main__":
    sys.exit(main())
