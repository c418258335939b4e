"""The steps of one artefact, as each per-directory Makefile calls them (SAM's `BuildMethod: makefile`).

    python3 -m ship.artefact deps     layers/deps     "$ARTIFACTS_DIR"   # the locked wheels, arm64, cp312
    python3 -m ship.artefact domain   layers/loyalty  "$ARTIFACTS_DIR"   # the loyalty package
    python3 -m ship.artefact function functions/earn  "$ARTIFACTS_DIR"   # a handler's directory (and the
                                                                         # locked wheels of its requirements.txt)
    python3 -m ship.artefact docs     layers/docs     "$ARTIFACTS_DIR"   # Swagger UI's files for /docs

Layers land in `<out>/python/` (what Lambda puts on sys.path as /opt/python), functions in `<out>/`.
Everything is then compiled by python3.12 with unchecked-hash pycs: /opt and /var/task are read-only in
Lambda, so bytecode that is missing (or judged stale by a zip's timestamps) is compiled at every cold start.
Needs only the standard library and pip, so `sam build` can run it from any Python 3.11+.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from pathlib import Path

from ship.python312 import find_python312

# The Lambda runtime we build for: template.yaml's Runtime and Architectures.
PLATFORM = "manylinux2014_aarch64"
PYTHON_VERSION = "3.12"
SKIP = shutil.ignore_patterns(
    "__pycache__", "*.pyc", "Makefile", ".mypy_cache", ".pytest_cache", "requirements.in", "requirements.txt"
)

# What the deps layer leaves out of the wheels it installs, and why: nothing we ship imports these (the
# packaging test checks that no file left in the layer names one, but for the allowed places listed).
# Together about 1.2 MB of the zipped layer, which must stay under 6 MB.
PRUNED: dict[str, str] = {
    "aws_lambda_powertools/event_handler/openapi/swagger_ui/swagger-ui-bundle.min.js": "/docs serves Swagger UI"
    " from the docs layer (swagger-ui-py, with its licence), never through Powertools' enable_swagger",
    "aws_lambda_powertools/event_handler/openapi/swagger_ui/swagger-ui.min.css": "as above",
    "pydantic/v1": "pydantic 1's API, kept in pydantic 2 for migrations; our models are pydantic 2",
    "aws_lambda_powertools/utilities/auth_alpha": "Powertools utilities we do not use",
    "aws_lambda_powertools/utilities/circuit_breaker": "unused",
    "aws_lambda_powertools/utilities/data_masking": "unused",
    "aws_lambda_powertools/utilities/feature_flags": "unused",
    "aws_lambda_powertools/utilities/idempotency": "unused (our ledger entry is the idempotency record)",
    "aws_lambda_powertools/utilities/kafka": "unused",
    "aws_lambda_powertools/utilities/streaming": "unused",
}
# Files left in the layer that may name a pruned module, and why that is safe.
PRUNED_NAMED_BY = {
    "pydantic/_internal/_generate_schema.py": "imports pydantic.v1 only for a type with `__get_validators__`"
    " (a pydantic 1 type); none of ours has one",
    "pydantic/_migration.py": "maps pydantic 1 import paths for `pydantic.utils` shims we never import",
}


# What the docs layer keeps of the swagger-ui-py wheel: the files /docs serves (loyalty.edge.openapi.ASSETS) and the
# licence. Its Python code (web-framework handlers that need jinja2) and Swagger Editor are left out: nothing
# imports them, and they would be ~20 MB.
DOCS_KEPT = ("swagger_ui/static/swagger-ui.css", "swagger_ui/static/swagger-ui-bundle.js", "swagger_ui/static/LICENSE")


def pip_install(requirements: Path, target: Path, platform: str = PLATFORM) -> None:
    """Exactly the pinned, hashed wheels of `requirements` for `platform` and CPython 3.12, nothing else
    (`--no-deps`: the lock is complete; boto3 and botocore are left out of it on purpose)."""
    command = [
        sys.executable,
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        "--no-deps",
        "--require-hashes",
        "--no-compile",  # bytecode comes from python3.12 below, not from this interpreter
        "--only-binary=:all:",
        "--platform",
        platform,
        "--implementation",
        "cp",
        "--python-version",
        PYTHON_VERSION,
        "--target",
        str(target),
        "-r",
        str(requirements),
    ]
    done = subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603 - pip, our lock
    if done.returncode != 0:
        raise SystemExit(f"pip could not install {requirements} for {platform}:\n{done.stdout}{done.stderr}")
    shutil.rmtree(target / "bin", ignore_errors=True)  # console scripts: nothing runs them in a layer


def compile_bytecode(root: Path, runtime_prefix: str) -> None:
    """python3.12 pycs next to every source, with unchecked-hash invalidation (valid whatever the zip's
    timestamps), naming the path the file will have in Lambda in tracebacks."""
    command = [
        find_python312(),
        "-m",
        "compileall",
        "-q",
        "-j",
        "0",
        "--invalidation-mode",
        "unchecked-hash",
        "-s",
        str(root),
        "-p",
        runtime_prefix,
        str(root),
    ]
    done = subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603 - compileall
    if done.returncode != 0:
        raise SystemExit(f"python3.12 could not compile {root}:\n{done.stdout}{done.stderr}")


def _fresh(path: Path) -> Path:
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    return path


def build_deps(source: Path, out: Path, platform: str = PLATFORM) -> None:
    site = _fresh(out / "python")
    pip_install(source / "requirements.txt", site, platform)
    for relative in PRUNED:
        path = site / relative
        if not path.exists():
            raise SystemExit(f"{relative} is no longer in the locked wheels: update PRUNED in {__file__}")
        shutil.rmtree(path) if path.is_dir() else path.unlink()
    compile_bytecode(site, "/opt/python")


def build_docs(source: Path, out: Path, platform: str = PLATFORM) -> None:
    site = _fresh(out / "python")
    pip_install(source / "requirements.txt", site, platform)
    package = site / "swagger_ui"
    kept = {site / relative for relative in DOCS_KEPT}
    missing = [str(p.relative_to(site)) for p in kept if not p.is_file()]
    if missing:
        raise SystemExit(f"{', '.join(missing)} no longer in the locked wheel: update DOCS_KEPT in {__file__}")
    for top in site.iterdir():  # the wheel also ships a top-level `test` package (its own tests)
        if top != package and not top.name.endswith(".dist-info"):
            shutil.rmtree(top) if top.is_dir() else top.unlink()
    for path in sorted(package.rglob("*"), reverse=True):  # files before the folders that hold them
        if path.is_file() and path not in kept:
            path.unlink()
        elif path.is_dir() and not any(path.iterdir()):
            path.rmdir()
    for record in site.glob("swagger_ui_py-*.dist-info/RECORD"):
        record.unlink()  # it lists the files left out; the licence and metadata stay


def build_domain(source: Path, out: Path) -> None:
    site = _fresh(out / "python")
    for package in sorted(p for p in source.iterdir() if (p / "__init__.py").is_file()):
        shutil.copytree(package, site / package.name, ignore=SKIP)
    compile_bytecode(site, "/opt/python")


def build_function(source: Path, out: Path, platform: str = PLATFORM) -> None:
    """The handler's directory; a function that alone needs a package (MembersFunction: phonenumbers) has its
    locked wheels in its own requirements.txt, installed beside the handler (/var/task is on sys.path)."""
    out.mkdir(parents=True, exist_ok=True)
    for stale in out.iterdir():  # sam hands us its own empty directory; ours may hold a previous build
        shutil.rmtree(stale) if stale.is_dir() else stale.unlink()
    shutil.copytree(source, out, ignore=SKIP, dirs_exist_ok=True)
    if (source / "requirements.txt").is_file():
        pip_install(source / "requirements.txt", out, platform)
    compile_bytecode(out, "/var/task")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("kind", choices=["deps", "domain", "function", "docs"])
    parser.add_argument("source", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--platform", default=PLATFORM, help="pip platform tag of the deps layer's wheels")
    args = parser.parse_args(argv)
    if args.kind == "deps":
        build_deps(args.source, args.out, args.platform)
    elif args.kind == "domain":
        build_domain(args.source, args.out)
    elif args.kind == "docs":
        build_docs(args.source, args.out, args.platform)
    else:
        build_function(args.source, args.out, args.platform)
    return 0


if __name__ == "__main__":
    sys.exit(main())
