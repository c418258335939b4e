"""A second review of imports (CONTRACT.md v1.2, "Import"): what the deployed functions may do, the file's first
bytes."""

from __future__ import annotations

from typing import Any

from loyalty_local.template import load_raw


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
