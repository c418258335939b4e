"""Find a CPython 3.12: Lambda's python3.12 runtime only loads bytecode compiled by 3.12."""

from __future__ import annotations

import functools
import glob
import os
import shutil
import subprocess
from pathlib import Path

WANTED = (3, 12)


class Python312Missing(RuntimeError):
    """No python3.12 here: the message says where we looked and how to get one."""


def _candidates() -> list[str]:
    found: list[str] = []
    if os.environ.get("PYTHON312"):
        found.append(os.environ["PYTHON312"])
    on_path = shutil.which("python3.12")
    if on_path:
        found.append(on_path)
    home = Path.home()
    roots = [os.environ.get("PYENV_ROOT", str(home / ".pyenv")), str(home / ".local/share/uv/python")]
    for root in roots:
        found += sorted(glob.glob(f"{root}/versions/3.12*/bin/python3.12"), reverse=True)
        found += sorted(glob.glob(f"{root}/cpython-3.12*/bin/python3.12"), reverse=True)
    found += ["/usr/bin/python3.12", "/usr/local/bin/python3.12", "/opt/homebrew/bin/python3.12"]
    return list(dict.fromkeys(found))


def _works(path: str) -> bool:
    """A pyenv shim named python3.12 can exist and still refuse to run: ask the interpreter itself."""
    try:
        done = subprocess.run(  # noqa: S603 - a candidate interpreter, asked its version
            [path, "-c", "import sys; print(sys.version_info[0], sys.version_info[1])"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    except OSError:
        return False
    return done.returncode == 0 and tuple(int(p) for p in done.stdout.split()) == WANTED


@functools.cache
def find_python312() -> str:
    tried = _candidates()
    for path in tried:
        if _works(path):
            return path
    raise Python312Missing(
        "no working CPython 3.12 was found (tried: "
        + ", ".join(tried)
        + "). The layers hold bytecode for Lambda's python3.12, and only a 3.12 interpreter writes it. "
        "Install one (`pyenv install 3.12`, `uv python install 3.12`, or your distribution's python3.12) "
        "or name it: PYTHON312=/path/to/python3.12 make build"
    )


if __name__ == "__main__":
    print(find_python312())
