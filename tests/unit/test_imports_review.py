"""A second review of imports (CONTRACT.md v1.2, "Import"): what the deployed functions may do, the file's first
bytes."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from loyalty.domain.imports import ImportRow
from loyalty.imports import rows as reading
from loyalty.program.rules import load_program_file

from loyalty_local.template import ROOT, load_raw

NOW = datetime(2026, 12, 7, 12, tzinfo=UTC)


def _statements(function: str) -> list[dict[str, Any]]:
    policies = load_raw()["Resources"][function]["Properties"]["Policies"]
    return [s for p in policies if isinstance(p, dict) for s in p.get("Statement", [])]


def test_the_imports_function_may_list_the_bucket_so_a_file_not_yet_uploaded_is_a_404_not_a_403() -> None:
    # HeadObject (store.imports.file_size, on every read of an import awaiting its file) of a missing object answers
    # 404 only to a caller with s3:ListBucket on the bucket; without it S3 answers 403 and the read is a 500.
    granted = [
        s for s in _statements("ImportsFunction") if s.get("Effect") == "Allow" and "s3:ListBucket" in s["Action"]
    ]
    assert granted, "ImportsFunction needs s3:ListBucket on ImportBucket"
    assert any(s["Resource"] == {"Fn::GetAtt": ["ImportBucket", "Arn"]} for s in granted)


@pytest.mark.parametrize("size", [1, 2, 1 << 20])
def test_a_jsonl_file_saved_with_a_byte_order_mark_reads_its_first_row(size: int) -> None:
    # editors on Windows write a UTF-8 BOM first: it is not part of the first row (a CSV's header already ignores it)
    data = b"\xef\xbb\xbf" + json.dumps({"member_id": "bom-1", "enrolled_at": "2024-01-01T00:00:00Z"}).encode() + b"\n"
    (line,) = reading.lines(data[i : i + size] for i in range(0, len(data), size))
    assert (line.row, line.start, line.end) == (1, 0, len(data))
    found = reading.parse(line, "jsonl", load_program_file(str(ROOT / "programs" / "demo.yaml")), NOW)
    assert isinstance(found, ImportRow) and found.member_id == "bom-1"
