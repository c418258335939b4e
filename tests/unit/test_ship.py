"""The build's own rules, without building: the python3.12 it needs, and what it reads in template.yaml."""

from __future__ import annotations

from pathlib import Path

import pytest

from loyalty_local.template import ROOT, Template
from ship import build, python312


def test_without_a_working_python312_the_build_says_what_it_tried_and_how_to_get_one(monkeypatch, tmp_path):
    shim = tmp_path / "python3.12"
    shim.write_text("#!/bin/sh\necho 'pyenv: python3.12: command not found' >&2\nexit 127\n")
    shim.chmod(0o755)
    monkeypatch.setattr(python312, "_candidates", lambda: [str(shim), str(tmp_path / "missing")])
    python312.find_python312.cache_clear()
    try:
        with pytest.raises(python312.Python312Missing) as refused:
            python312.find_python312()
    finally:
        python312.find_python312.cache_clear()
    message = str(refused.value)
    assert str(shim) in message and "PYTHON312=" in message and "pyenv install 3.12" in message


def test_every_function_and_layer_is_built_by_the_makefile_in_its_directory():
    found = {a.logical_id: a for a in build.artefacts()}
    assert set(found) == set(Template().functions()) | {"DepsLayer", "DomainLayer", "DocsLayer"}
    for artefact in found.values():
        makefile = (artefact.source / "Makefile").read_text()
        assert f"build-{artefact.logical_id}:" in makefile, artefact.logical_id


def test_a_build_method_other_than_makefile_is_refused(tmp_path: Path):
    text = (
        (ROOT / "template.yaml")
        .read_text()
        .replace("BuildMethod: makefile  # its Makefile", "BuildMethod: python3.12  #", 1)
    )
    broken = tmp_path / "template.yaml"
    broken.write_text(text)
    with pytest.raises(SystemExit, match=r"BuildMethod 'python3\.12'"):
        build.artefacts(broken)
