"""`make run` itself: clear failures, concurrency, the clock seam."""

from __future__ import annotations

import http.client
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urljoin

from tests.support.http import ROOT


def run_stack(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "loyalty_local", *args], cwd=ROOT, capture_output=True, text=True, timeout=120
    )


def test_a_taken_port_is_a_clear_error_and_a_non_zero_exit():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run_stack("--port", str(port))
    assert result.returncode == 2
    assert f"port {port} is taken" in result.stderr


def test_a_broken_template_is_a_clear_error(tmp_path):
    broken = tmp_path / "template.yaml"
    broken.write_text(
        (ROOT / "template.yaml").read_text().replace("CodeUri: functions/members/", "CodeUri: functions/gone/")
    )
    (tmp_path / "functions").symlink_to(ROOT / "functions")
    result = run_stack("--template", str(broken), "--port", "0")
    assert result.returncode == 2
    assert "MembersFunction" in result.stderr and "does not exist" in result.stderr
    broken.write_text("Resources: [unclosed")
    result = run_stack("--template", str(broken), "--port", "0")
    assert result.returncode == 2 and "not valid YAML" in result.stderr


def test_a_bad_programme_file_is_refused_before_start(tmp_path):
    bad = tmp_path / "p.yaml"
    bad.write_text("program_id: p\nname: n\ncurrency: usd\ntiers: []\n")
    result = run_stack("--program", str(bad), "--port", "0")
    assert result.returncode == 2 and "currency" in result.stderr


def test_requests_are_served_concurrently_and_routes_missing_from_the_template_are_missing(api):
    api.enroll("e2e-conc")
    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(pool.map(lambda _: api.get("/v1/members/e2e-conc").status, range(32)))
    assert statuses == [200] * 32
    missing = api.get("/v1/not-a-route")
    assert missing.status == 404 and missing.json["error"]["code"] == "not_found"


def test_local_routes_validate_their_input(api):
    assert api.post("/_local/clock", {"now": "yesterday"}, key=None).status == 422
    assert api.post("/_local/clock", {}, key=None).status == 422
    assert api.post("/_local/jobs/no-such-job", {}, key=None).status == 404
    assert api.get("/_local/events", key=None).status == 200


def test_dynamodb_pointed_elsewhere_holds_the_data_and_still_feeds_the_events(tmp_path):
    """`AWS_ENDPOINT_URL_DYNAMODB=... make run`: the table (and its stream) at that endpoint, the rest in process.
    Here the other endpoint is a moto server of its own, in another process."""
    import boto3

    from tests.support.http import LocalStackProcess, free_port

    port = free_port()
    log = open(tmp_path / "moto.log", "wb")  # noqa: SIM115 - closed below
    server = subprocess.Popen([sys.executable, "-m", "moto.server", "-p", str(port)], stdout=log, stderr=log)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.05)
        stack = LocalStackProcess(env={"AWS_ENDPOINT_URL_DYNAMODB": url})
        try:
            stack.client.enroll("e2e-elsewhere")
            assert stack.client.get("/v1/members/e2e-elsewhere").json["points"]["available"] == 100
            events = stack.client.get("/_local/events?detail_type=MemberEnrolled", key=None).json["events"]
            assert [e["detail"]["member_id"] for e in events] == ["e2e-elsewhere"]
        finally:
            stack.stop()
        other = boto3.client(
            "dynamodb", endpoint_url=url, region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
        )
        item = other.get_item(
            TableName="LoyaltyTable", Key={"PK": {"S": "MEMBER#e2e-elsewhere"}, "SK": {"S": "MEMBER"}}
        )
        assert item["Item"]["available"]["N"] == "100"
    finally:
        server.terminate()
        server.wait(timeout=10)
        log.close()


def test_the_banner_names_the_console_and_the_root_and_console_slash_lead_to_it(stack, api):
    """`make run` says where the console is; `/` and `/console/` in a browser land on it (not a JSON 404)."""
    assert f"console: {api.base}/console" in stack.output_from_start()
    for path in ("/", "/console/"):
        connection = http.client.HTTPConnection("127.0.0.1", stack.port, timeout=30)
        connection.request("GET", path)
        answer = connection.getresponse()
        answer.read()
        connection.close()
        assert answer.status == 302, (path, answer.status)
        assert urljoin(api.base + path, answer.getheader("Location") or "") == api.base + "/console"
    assert api.get("/", key=None).headers["Content-Type"].startswith("text/html")  # followed: the console
