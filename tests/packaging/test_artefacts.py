"""What ships to Lambda, built as `sam build` builds it (ship/), checked and run from the artefacts alone.

The build is cached by its inputs (.aws-sam/), so a run without changes only checks and invokes.
"""

from __future__ import annotations

import io
import json
import os
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from loyalty_local.template import ROOT, Template
from ship import artefact
from ship.harness import HOST_IS_ARM64, RUNTIME_PACKAGES, Harness, layer_twin_differences

DEPS_ZIPPED_LIMIT = 6_000_000  # bytes: the budget of issue 16
UNZIPPED_LIMIT = 250 * 1024 * 1024  # Lambda: a function and all its layers, unzipped
EVENTS = ROOT / "events"


@pytest.fixture(scope="module")
def harness() -> Harness:
    return Harness.prepare()


def _zip(root: Path) -> tuple[int, int]:
    """Zipped (deflated, as sam packages) and unzipped bytes of a directory."""
    buffer, unzipped = io.BytesIO(), 0
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(p for p in root.rglob("*") if p.is_file()):
            archive.write(path, path.relative_to(root).as_posix())
            unzipped += path.stat().st_size
    return len(buffer.getvalue()), unzipped


def _files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file())


def test_every_function_and_layer_of_the_template_is_built(harness: Harness) -> None:
    assert set(harness.built) == set(Template().functions()) | {"DepsLayer", "DomainLayer", "DocsLayer"}
    for logical_id, function in Template().functions().items():
        assert (harness.built[logical_id] / f"{function.module}.py").is_file()
        assert not (harness.built[logical_id] / "Makefile").exists()
    assert (harness.built["DomainLayer"] / "python" / "loyalty" / "programs" / "demo.yaml").is_file()
    assert (harness.built["DomainLayer"] / "python" / "loyalty" / "openapi.json").is_file()


def test_the_docs_layer_holds_swagger_ui_files_and_their_licence_only(harness: Harness) -> None:
    site = harness.built["DocsLayer"] / "python"
    static = site / "swagger_ui" / "static"
    assert sorted(p.name for p in static.iterdir()) == ["LICENSE", "swagger-ui-bundle.js", "swagger-ui.css"]
    assert "Apache License" in (static / "LICENSE").read_text()
    assert not list(site.rglob("*.py")), "the docs layer ships files, no code"
    (metadata,) = site.glob("swagger_ui_py-*.dist-info/METADATA")
    assert "Apache" in metadata.read_text()


def test_the_deps_layer_holds_only_arm64_cp312_wheels_and_no_boto3(harness: Harness) -> None:
    site = harness.built["DepsLayer"] / "python"
    wheels = list(site.glob("*.dist-info/WHEEL"))
    assert len(wheels) >= 8
    for wheel in wheels:
        tags = [line.split(":", 1)[1].strip() for line in wheel.read_text().splitlines() if line.startswith("Tag:")]
        assert tags, wheel
        parsed = [tag.split("-") for tag in tags]
        assert all(platform == "any" or platform.endswith("_aarch64") for _, _, platform in parsed), tags
        assert any(python in ("cp312", "py3") and abi in ("cp312", "abi3", "none") for python, abi, _ in parsed), (
            f"{wheel.parent.name}: no tag for CPython 3.12 in {tags}"
        )
    for extension in site.rglob("*.so"):
        assert extension.name.endswith("-312-aarch64-linux-gnu.so"), extension
    installed = {w.parent.name.split("-")[0].lower().replace("_", "-") for w in wheels}
    assert not installed & set(RUNTIME_PACKAGES) - {"jmespath"}, "the Lambda runtime provides boto3 and its own"


def test_the_deps_layer_installs_the_locked_versions_the_tests_run(harness: Harness) -> None:
    from importlib.metadata import version

    site = harness.built["DepsLayer"] / "python"
    for dist_info in site.glob("*.dist-info"):
        name, pinned = dist_info.name.removesuffix(".dist-info").rsplit("-", 1)
        assert version(name) == pinned, f"{name}: the layer has {pinned}, the tests run {version(name)}"


def test_sizes_are_within_budget(harness: Harness) -> None:
    zipped, deps_unzipped = _zip(harness.built["DepsLayer"])
    print(f"\ndeps layer: {zipped / 1e6:.2f} MB zipped, {deps_unzipped / 1e6:.1f} MB unzipped")
    assert zipped <= DEPS_ZIPPED_LIMIT
    _, domain_unzipped = _zip(harness.built["DomainLayer"])
    _, docs_unzipped = _zip(harness.built["DocsLayer"])
    for logical_id in Template().functions():
        _, function_unzipped = _zip(harness.built[logical_id])
        docs = docs_unzipped if "DocsLayer" in harness.layers(logical_id) else 0
        assert function_unzipped + deps_unzipped + domain_unzipped + docs <= UNZIPPED_LIMIT


def test_every_source_has_python312_bytecode_that_needs_no_timestamp(harness: Harness) -> None:
    import subprocess

    from ship.python312 import find_python312

    magic = subprocess.run(
        [find_python312(), "-c", "import importlib.util, sys; sys.stdout.write(importlib.util.MAGIC_NUMBER.hex())"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    for name, root in harness.built.items():
        if name == "DocsLayer":  # Swagger UI's files, no Python
            continue
        sources = [p for p in _files(root) if p.suffix == ".py"]
        assert sources, root
        for source in sources:
            pyc = source.parent / "__pycache__" / f"{source.stem}.cpython-312.pyc"
            assert pyc.is_file(), f"no bytecode for {source}"
            header = pyc.read_bytes()[:8]
            assert header[:4].hex() == magic, f"{pyc} was not written by python3.12"
            assert int.from_bytes(header[4:8], "little") == 0b01, f"{pyc} is not an unchecked-hash pyc"


def test_nothing_left_in_the_layer_imports_what_the_build_pruned(harness: Harness) -> None:
    site = harness.built["DepsLayer"] / "python"
    modules = [r.removesuffix(".py").replace("/", ".") for r in artefact.PRUNED if not r.endswith((".js", ".css"))]
    naming: dict[str, list[str]] = {}
    for source in site.rglob("*.py"):
        text = source.read_text(encoding="utf-8", errors="replace")
        for module in modules:
            if module in text:
                naming.setdefault(str(source.relative_to(site)), []).append(module)
    assert set(naming) <= set(artefact.PRUNED_NAMED_BY), naming
    assert "://" not in (ROOT / "layers/loyalty/loyalty/edge/openapi.py").read_text(), "/docs names no CDN"


@pytest.mark.skipif(HOST_IS_ARM64, reason="on arm64 the harness loads the built layer itself")
def test_the_twin_the_harness_loads_here_differs_only_in_compiled_modules(harness: Harness) -> None:
    assert layer_twin_differences(harness.built["DepsLayer"] / "python", harness.deps) == []


# ---------------------------------------------------------------------------------------------------------
# every function, loaded by a Lambda-like python3.12 from the artefacts, invoked with its events


@pytest.fixture(scope="module")
def emulator() -> Iterator[dict[str, Any]]:
    """The local stack's emulator (moto in this process) with the template's resources, as `make run`
    provisions them; the Lambda-like interpreters reach the same backends through its loopback door."""
    from loyalty.kernel import config
    from loyalty.program import rules as program
    from loyalty.store import core

    from loyalty_local import provision
    from loyalty_local.emulator import Emulator
    from loyalty_local.server import point_sdk_at_emulator

    saved = dict(os.environ)
    for name in [k for k in os.environ if k.startswith("AWS_ENDPOINT_URL")]:
        del os.environ[name]
    server = Emulator()
    server.start()
    try:
        point_sdk_at_emulator()
        template = Template()
        os.environ.update(template.environment())
        config.reset()
        core.reset_clients()
        program.PROGRAMS.override(None)
        resources = provision.provision(template)
        yield {"url": server.url, **resources}
    finally:
        server.stop()
        os.environ.clear()
        os.environ.update(saved)
        config.reset()
        core.reset_clients()


def _event(name: str) -> dict[str, Any]:
    return dict(json.loads((EVENTS / f"{name}.json").read_text()))


def _signed(name: str) -> dict[str, Any]:
    from loyalty.redemption.signatures import header_value

    event = _event(name)
    body = (event.get("body") or "").encode()
    event["headers"] = {
        **event["headers"],
        "Loyalty-Signature": header_value("demo-partner-secret", int(time.time()), body),
    }
    return event


def _serve(harness: Harness, emulator: dict[str, Any], logical_id: str, events: list[dict[str, Any]]) -> list[Any]:
    env = {"AWS_ENDPOINT_URL": emulator["url"], "AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local"}
    ran = harness.run(logical_id, events, extra_env=env)
    for answer in ran["answers"]:
        assert "error" not in answer, f"{logical_id}: {answer.get('traceback')}\n{ran['stdout'][-3000:]}"
    loaded = [f for f in ran["module_files"] if f.endswith(".py")]
    outside = [
        f for f in loaded if not f.startswith(tuple(harness.sys_path(logical_id))) and "/lib/python3.12/" not in f
    ]
    assert outside == [], f"{logical_id} loaded modules from outside the artefacts: {outside}"
    return [a["result"] for a in ran["answers"]]


API_CALLS = {  # each function's events, in an order a client would send them, and the statuses they answer
    "MembersFunction": [
        ("Enroll", 201),
        ("Search", 404),  # a national phone read by phonenumbers, from the function's own package; no one has it
        ("GetMember", 200),
        ("Adjust", 201),
        ("GetLedger", 200),
        ("Subscribe", 201),
        ("OverrideTier", 200),
    ],
    "EarnFunction": [("Earn", 201), ("Earn", 200), ("EarnPreview", 200), ("Refund", 201), ("Activity", 201)],
    # 330 points by then: the 500-point hold is refused (the domain answering, after reading the member)
    "RedeemFunction": [("ListRewards", 200), ("PayWithPoints", 409), ("Capture", 404), ("Void", 404)],
    "PartnersFunction": [("PartnerRedeem", 201), ("PartnerCancel", 200)],
    "ProgramFunction": [
        ("GetProgram", 200),
        ("Liability", 200),
        ("ReportsTiers", 200),
        ("ReportsActivity", 200),
        ("Jobs", 200),
        ("OpenApi", 200),
        ("Docs", 200),
        ("DocsAsset", 200),  # from the docs layer
    ],
    # 330 points again after the partner's cancel: the free drink's 300 are there
    "CheckoutFunction": [("CheckoutQuote", 200), ("CheckoutOrder", 201), ("CheckoutOrder", 200)],
}


def test_every_api_function_serves_its_events_from_the_artefacts(harness: Harness, emulator: dict[str, Any]) -> None:
    for logical_id, calls in API_CALLS.items():
        events = [_signed(name) if name.startswith("Partner") else _event(name) for name, _ in calls]
        answers = _serve(harness, emulator, logical_id, events)
        got = [(name, answer["statusCode"]) for (name, _), answer in zip(calls, answers, strict=True)]
        assert got == calls, f"{logical_id}: {[json.loads(a['body']) for a in answers]}"
    member = _serve(harness, emulator, "MembersFunction", [_event("GetMember")])[0]
    body = json.loads(member["body"])
    assert body["member_id"] == "cust-1" and body["points"]["available"] > 0, body


def test_the_authorizer_allows_a_known_key_and_refuses_others(harness: Harness, emulator: dict[str, Any]) -> None:
    def request(key: str) -> dict[str, Any]:
        return {
            "type": "REQUEST",
            "methodArn": "arn:aws:execute-api:us-east-1:123456789012:api1/local/GET/v1/program",
            "headers": {"Authorization": f"Bearer {key}"},
        }

    env = {"AWS_ENDPOINT_URL": emulator["url"], "AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local"}
    ran = harness.run("AuthorizerFunction", [request("lk_local_checkout"), request("lk_nobody")], extra_env=env)
    allowed, refused = ran["answers"]
    assert allowed["result"]["policyDocument"]["Statement"][0]["Effect"] == "Allow"
    assert allowed["result"]["context"]["scopes"] == "earn enroll read redeem"
    assert refused.get("message") == "Unauthorized"


def _messages(emulator: dict[str, Any], queue: str) -> list[dict[str, Any]]:
    import boto3

    sqs = boto3.client("sqs")
    url = emulator["queues"][queue]
    got: list[dict[str, Any]] = []
    while batch := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, AttributeNames=["All"]).get("Messages"):
        got += batch
        for message in batch:
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    return got


def test_every_job_its_workers_and_the_stream_processor_run_from_the_artefacts(
    harness: Harness, emulator: dict[str, Any]
) -> None:
    import boto3

    from loyalty_local.runtime import sqs_event
    from loyalty_local.streams import lambda_record

    # a member of its own with an earn, whatever the other tests did
    enroll, earn = _event("Enroll"), _event("Earn")
    enroll["body"] = json.dumps({**json.loads(enroll["body"]), "member_id": "pkg-jobs", "email": "jobs@example.com"})
    earn["body"] = json.dumps({**json.loads(earn["body"]), "member_id": "pkg-jobs", "order_id": "pkg-jobs-1"})
    assert _serve(harness, emulator, "MembersFunction", [enroll])[0]["statusCode"] == 201
    assert _serve(harness, emulator, "EarnFunction", [earn])[0]["statusCode"] == 201
    for logical_id, event in [
        ("HoldReleaseFunction", "HoldRelease"),
        ("PendingActivationFunction", "PendingActivation"),
        ("TierEvaluationFunction", "MonthlyTierEvaluation"),
        ("ExpiryFunction", "MonthlyExpiry"),
    ]:
        (answer,) = _serve(harness, emulator, logical_id, [_event(event)])
        assert isinstance(answer, dict), (logical_id, answer)
    for worker, queue in [("TierWorkerFunction", "TierWorkQueue"), ("ExpiryWorkerFunction", "ExpiryWorkQueue")]:
        messages = _messages(emulator, queue)
        assert messages, f"the orchestrator sent {worker} no work"
        arn = f"arn:aws:sqs:us-east-1:123456789012:{queue}"
        events = [sqs_event(messages[i : i + 2], arn) for i in range(0, len(messages), 2)]
        for answer in _serve(harness, emulator, worker, events):
            assert answer == {"batchItemFailures": []}, (worker, answer)

    from botocore.config import Config

    # as the local stack's poller reads the stream (moto does not answer account-based endpoints)
    streams = boto3.client("dynamodbstreams", config=Config(account_id_endpoint_mode="disabled"))
    table = boto3.client("dynamodb").describe_table(TableName=Template().physical_name("LoyaltyTable"))["Table"]
    arn = table["LatestStreamArn"]
    shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
    iterator = streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON")
    records = streams.get_records(ShardIterator=iterator["ShardIterator"], Limit=100)["Records"]
    kinds = {"member", "account", "entry", "expiry_warning"}  # template.yaml's FilterCriteria
    wanted = [
        lambda_record(r, arn) for r in records if r["dynamodb"].get("NewImage", {}).get("kind", {}).get("S") in kinds
    ]
    assert len(wanted) >= 4  # the member and its signup entry, the earn's entry and the member again
    (answer,) = _serve(harness, emulator, "EventsPublisherFunction", [{"Records": wanted}])
    assert answer == {"batchItemFailures": []}
    from loyalty_local.capture import archive_events

    published = [e for name in emulator["archives"] for e in archive_events(name)]
    assert published, "the stream processor published no domain event"
