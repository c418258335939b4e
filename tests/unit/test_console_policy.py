"""The console's Content-Security-Policy (issue 26): its Import page PUTs a file to the URL `POST /v1/imports`
answers. Deployed that is the import bucket's presigned URL, so the policy names that bucket's S3 hosts and no
other; locally the URL is the stack's own origin and the policy is 'self' alone. The bucket answers the browser's
CORS preflight for the API's origins."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from loyalty.edge import console
from loyalty.kernel import config

from loyalty_local.template import Template, load_raw


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    for name in ("IMPORT_BUCKET", "UPLOAD_ENDPOINT_URL", "AWS_REGION", "AWS_DEFAULT_REGION"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("TABLE_NAME", "LoyaltyTable")
    config.reset()
    yield monkeypatch
    config.reset()


def connect_src(headers: dict[str, str]) -> list[str]:
    policy = headers["Content-Security-Policy"]
    (found,) = [d for d in policy.split("; ") if d.startswith("connect-src ")]
    return found.split()[1:]


def test_deployed_the_page_may_send_a_file_to_the_import_bucket_and_nowhere_else(env: pytest.MonkeyPatch) -> None:
    env.setenv("IMPORT_BUCKET", "loyalty-importbucket-abc123")
    env.setenv("AWS_REGION", "eu-west-1")
    config.reset()
    headers = console.security_headers()
    assert connect_src(headers) == [
        "'self'",
        "https://loyalty-importbucket-abc123.s3.amazonaws.com",
        "https://loyalty-importbucket-abc123.s3.eu-west-1.amazonaws.com",
    ]
    policy = headers["Content-Security-Policy"]
    assert "default-src 'none'" in policy and "script-src 'self';" in policy and "frame-ancestors 'none'" in policy
    assert {k: v for k, v in headers.items() if k != "Content-Security-Policy"} == {
        k: v for k, v in console.SECURITY_HEADERS.items() if k != "Content-Security-Policy"
    }


def test_locally_and_without_a_bucket_the_page_talks_to_its_own_origin_only(env: pytest.MonkeyPatch) -> None:
    assert connect_src(console.security_headers()) == ["'self'"]  # no bucket
    env.setenv("IMPORT_BUCKET", "loyalty-imports")
    env.setenv("UPLOAD_ENDPOINT_URL", "http://127.0.0.1:3000/_local/s3")  # the local stack: uploads to itself
    config.reset()
    assert console.security_headers() == console.SECURITY_HEADERS
    assert connect_src(console.SECURITY_HEADERS) == ["'self'"]


def test_the_program_function_knows_the_bucket_and_the_bucket_answers_the_consoles_preflight() -> None:
    (program,) = [f for f in Template().functions().values() if f.logical_id == "ProgramFunction"]
    assert "IMPORT_BUCKET" in program.environment
    bucket = load_raw()["Resources"]["ImportBucket"]["Properties"]
    (rule,) = bucket["CorsConfiguration"]["CorsRules"]
    assert rule["AllowedMethods"] == ["PUT"] and rule["AllowedHeaders"] == ["content-type"]
    assert rule["AllowedOrigins"] == [{"Fn::Sub": "https://*.execute-api.${AWS::Region}.amazonaws.com"}]
