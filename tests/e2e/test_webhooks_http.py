"""Webhooks over HTTP against the local stack (CONTRACT.md v1.2, "Webhooks"), to a receiver the test starts: the
routes, the Standard Webhooks signature (checked with the `standardwebhooks` library, as a receiver would), the
whole retry schedule walked by moving the stack's clock, Retry-After, 410, disabling after 5 days, rotation, the
delivery log and retries by hand, and the faults a receiver can have."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from standardwebhooks import Webhook, WebhookVerificationError

from tests.support.http import ADMIN, Client
from tests.support.receiver import Receiver, Reply

T0 = datetime(2027, 3, 10, 12, 0, 0, tzinfo=UTC)


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def iso(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    found = Receiver()
    yield found
    found.close()


@pytest.fixture
def endpoints(api: Client) -> Iterator[list[str]]:
    """Endpoints a test made, deleted after it (so no later test's events go to a receiver that is gone)."""
    made: list[str] = []
    yield made
    for endpoint_id in made:
        api.request("DELETE", f"/v1/webhooks/{endpoint_id}", key=ADMIN)


def create(api: Client, endpoints: list[str], url: str, types: list[str] | None = None, **extra: Any) -> Any:
    endpoint_id = unique("hook")
    answer = api.post(
        "/v1/webhooks", {"endpoint_id": endpoint_id, "url": url, "event_types": types or ["*"], **extra}, key=ADMIN
    )
    assert answer.status == 201, answer.raw
    endpoints.append(endpoint_id)
    return answer.json


def log(api: Client, endpoint_id: str, query: str = "") -> list[dict[str, Any]]:
    answer = api.get(f"/v1/webhooks/{endpoint_id}/deliveries{query}", key=ADMIN)
    assert answer.status == 200, answer.raw
    return list(answer.json["deliveries"])


def wait_log(api: Client, endpoint_id: str, test: Any, timeout: float = 20) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = log(api, endpoint_id)
        if test(found):
            return found
        time.sleep(0.1)
    raise AssertionError(f"the log never got there: {log(api, endpoint_id)}")


def test_endpoint_routes_and_a_signed_message(api: Client, receiver: Receiver, endpoints: list[str]) -> None:
    endpoint_id = unique("hook")
    body = {"endpoint_id": endpoint_id, "url": receiver.url(), "event_types": ["MemberEnrolled"], "description": "crm"}
    created = api.post("/v1/webhooks", body, key=ADMIN)
    assert created.status == 201, created.raw
    endpoints.append(endpoint_id)
    secret = created.json["secret"]
    assert secret.startswith("whsec_") and len(secret) == len("whsec_") + 44
    assert {k: created.json[k] for k in ("endpoint_id", "url", "event_types", "description", "status")} == {
        **body,
        "status": "enabled",
    }
    again = api.post("/v1/webhooks", body, key=ADMIN)  # a replay answers the first answer, its secret included
    assert (again.status, again.raw, again.headers.get("Idempotent-Replayed")) == (200, created.raw, "true")
    other = api.post("/v1/webhooks", {**body, "url": receiver.url("/other")}, key=ADMIN)
    assert (other.status, other.json["error"]["code"]) == (409, "endpoint_exists")
    assert api.post("/v1/webhooks", body).status == 403  # the checkout's key is not an administrator's

    read = api.get(f"/v1/webhooks/{endpoint_id}", key=ADMIN)
    assert read.status == 200 and "secret" not in read.json and read.json["disabled_reason"] is None
    assert endpoint_id in [e["endpoint_id"] for e in api.get("/v1/webhooks", key=ADMIN).json["endpoints"]]
    assert api.get(f"/v1/webhooks/{unique('none')}", key=ADMIN).json["error"]["code"] == "endpoint_not_found"

    member_id = unique("m")
    api.enroll(member_id)
    api.post("/v1/earn", {"member_id": member_id, "order_id": unique("o"), "amount": "20.00", "currency": "USD"})
    [message] = receiver.wait_for(1)
    time.sleep(0.5)
    assert len(receiver.messages()) == 1  # PointsEarned is not among its types
    verified = Webhook(secret).verify(message.body, message.headers)
    assert verified["type"] == "MemberEnrolled" and verified["data"]["member_id"] == member_id
    assert message.headers["webhook-id"] == verified["data"]["event_id"]
    with pytest.raises(WebhookVerificationError):
        Webhook("whsec_" + "A" * 43 + "=").verify(message.body, message.headers)
    [delivery] = wait_log(api, endpoint_id, lambda d: d and d[0]["status"] == "succeeded")
    assert delivery["event_id"] == message.headers["webhook-id"] and delivery["type"] == "MemberEnrolled"
    assert delivery["next_attempt_at"] is None
    assert [a["response_status"] for a in delivery["attempts"]] == [200]

    changed = api.request("PATCH", f"/v1/webhooks/{endpoint_id}", {"event_types": ["*"]}, key=ADMIN)
    assert changed.status == 200 and changed.json["event_types"] == ["*"]
    bad = api.request("PATCH", f"/v1/webhooks/{endpoint_id}", {"event_types": ["PointsEarnd"]}, key=ADMIN)
    assert (bad.status, bad.json["error"]["code"]) == (422, "validation_error")

    test = api.post(f"/v1/webhooks/{endpoint_id}/test", key=ADMIN)
    assert test.status == 202 and test.json["type"] == "WebhookTest" and test.json["status"] == "pending"
    tested = receiver.wait_for(2)[-1]
    assert Webhook(secret).verify(tested.body, tested.headers)["data"]["endpoint_id"] == endpoint_id

    # disabled by an administrator: it gets nothing until it is enabled again, not even a test
    off = api.request("PATCH", f"/v1/webhooks/{endpoint_id}", {"status": "disabled"}, key=ADMIN)
    assert (off.json["status"], off.json["disabled_reason"]) == ("disabled", None)
    api.enroll(unique("m"))
    unsent = api.post(f"/v1/webhooks/{endpoint_id}/test", key=ADMIN)
    assert unsent.status == 202
    wait_log(
        api,
        endpoint_id,
        lambda d: any(x["delivery_id"] == unsent.json["delivery_id"] and x["status"] == "failed" for x in d),
    )
    assert len(receiver.messages()) == 2
    assert [x["attempts"] for x in log(api, endpoint_id) if x["delivery_id"] == unsent.json["delivery_id"]] == [[]]

    deleted = api.request("DELETE", f"/v1/webhooks/{endpoint_id}", key=ADMIN)
    assert deleted.status == 200
    assert api.get(f"/v1/webhooks/{endpoint_id}", key=ADMIN).status == 404
    api.enroll(unique("m"))
    time.sleep(1.5)
    assert len(receiver.messages()) == 2  # nothing more is sent to it
    endpoints.remove(endpoint_id)


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("http://10.0.0.7/hooks", "private"),
        ("http://169.254.169.254/latest/meta-data", "link-local"),
        ("https://192.168.1.10/x", "private"),
        ("https://[::ffff:10.0.0.1]/x", "private"),
        ("https://[fd00:ec2::254]/x", "private"),
        ("https://user:pw@127.0.0.1/x", "user name"),
        ("ftp://127.0.0.1/x", "https"),
        ("https://100.64.0.1/x", "private"),
    ],
)
def test_urls_into_this_network_are_refused(api: Client, url: str, why: str) -> None:
    answer = api.post("/v1/webhooks", {"endpoint_id": unique("bad"), "url": url, "event_types": ["*"]}, key=ADMIN)
    assert (answer.status, answer.json["error"]["code"]) == (422, "validation_error"), answer.raw
    assert answer.json["error"]["details"][0]["field"] == "url" and why in answer.json["error"]["message"]


def test_unknown_event_types_and_bad_bodies(api: Client) -> None:
    base = {"endpoint_id": unique("bad"), "url": "http://127.0.0.1:9/x"}
    for types in (["PointsEarnd"], [], ["*", "Nope"]):
        answer = api.post("/v1/webhooks", {**base, "event_types": types}, key=ADMIN)
        assert (answer.status, answer.json["error"]["code"]) == (422, "validation_error"), answer.raw
    typo = api.post("/v1/webhooks", {**base, "event_types": ["*"], "urll": "x"}, key=ADMIN)
    assert typo.status == 422
    assert api.get(f"/v1/webhooks/{base['endpoint_id']}", key=ADMIN).status == 404  # nothing written


def test_the_whole_retry_schedule_by_the_clock(api: Client, receiver: Receiver, endpoints: list[str]) -> None:
    """8 attempts, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h apart by the stack's clock, then `failed`; every
    attempt carries the same webhook-id and its own webhook-timestamp."""
    api.set_clock(iso(T0))
    receiver.reply = lambda _: Reply(500)
    endpoint = create(api, endpoints, receiver.url(), ["MemberEnrolled"])
    api.enroll(unique("m"))
    receiver.wait_for(1)
    at = T0
    schedule = [timedelta(seconds=5), timedelta(minutes=5), timedelta(minutes=30), timedelta(hours=2)]
    schedule += [timedelta(hours=5), timedelta(hours=10), timedelta(hours=10)]
    for n, wait in enumerate(schedule, start=2):
        [pending] = wait_log(api, endpoint["endpoint_id"], lambda d, n=n: len(d[0]["attempts"]) == n - 1)
        assert pending["status"] == "pending" and pending["next_attempt_at"] == iso(at + wait)
        api.set_clock(iso(at + wait - timedelta(seconds=1)))  # not yet due: nothing is sent
        time.sleep(1.5)
        assert len(receiver.messages()) == n - 1
        at = at + wait
        api.set_clock(iso(at))
        receiver.wait_for(n, timeout=10)
    [failed] = wait_log(api, endpoint["endpoint_id"], lambda d: d[0]["status"] == "failed")
    assert failed["next_attempt_at"] is None and len(failed["attempts"]) == 8
    assert [a["response_status"] for a in failed["attempts"]] == [500] * 8
    sent = receiver.messages()
    assert len({m.headers["webhook-id"] for m in sent}) == 1
    assert [int(m.headers["webhook-timestamp"]) for m in sent] == [
        int(datetime.fromisoformat(a["at"].replace("Z", "+00:00")).timestamp()) for a in failed["attempts"]
    ]
    assert at - T0 == timedelta(hours=27, minutes=35, seconds=5)  # "8 attempts in about 27.6 hours"
    assert log(api, endpoint["endpoint_id"], "?status=failed")[0]["delivery_id"] == failed["delivery_id"]
    assert log(api, endpoint["endpoint_id"], "?status=pending") == []

    receiver.reply = lambda _: Reply(200)  # the receiver is mended: a retry by hand sends it again, now
    retried = api.post(f"/v1/webhooks/{endpoint['endpoint_id']}/deliveries/{failed['delivery_id']}/retry", key=ADMIN)
    assert retried.status == 202 and retried.json["status"] == "pending", retried.raw
    [done] = wait_log(api, endpoint["endpoint_id"], lambda d: d[0]["status"] == "succeeded")
    assert len(done["attempts"]) == 9 and done["attempts"][-1]["response_status"] == 200
    missing = api.post(f"/v1/webhooks/{endpoint['endpoint_id']}/deliveries/nope/retry", key=ADMIN)
    assert (missing.status, missing.json["error"]["code"]) == (404, "delivery_not_found")


def test_retry_after_410_and_five_days_of_failure(api: Client, receiver: Receiver, endpoints: list[str]) -> None:
    api.set_clock(iso(T0))
    replies = {"/slow": Reply(429, {"Retry-After": "120"}), "/busy": Reply(503, {"Retry-After": "99999"})}
    receiver.reply = lambda got: replies.get(got.path, Reply(500))
    slow = create(api, endpoints, receiver.url("/slow"), ["MemberEnrolled"])
    busy = create(api, endpoints, receiver.url("/busy"), ["MemberEnrolled"])
    gone = create(api, endpoints, receiver.url("/gone"), ["MemberEnrolled"])
    failing = create(api, endpoints, receiver.url("/failing"), ["MemberEnrolled"])
    replies["/gone"] = Reply(410)
    api.enroll(unique("m"))
    [s] = wait_log(api, slow["endpoint_id"], lambda d: d and d[0]["attempts"])
    assert s["next_attempt_at"] == iso(T0 + timedelta(seconds=120))  # Retry-After instead of 5 s
    [b] = wait_log(api, busy["endpoint_id"], lambda d: d and d[0]["attempts"])
    assert b["next_attempt_at"] == iso(T0 + timedelta(hours=1))  # at most an hour
    [g] = wait_log(api, gone["endpoint_id"], lambda d: d and d[0]["status"] == "failed")
    assert g["next_attempt_at"] is None
    read = api.get(f"/v1/webhooks/{gone['endpoint_id']}", key=ADMIN).json
    assert (read["status"], read["disabled_reason"]) == ("disabled", "gone")

    # five days later every attempt of `failing` has failed: its next failure disables it
    wait_log(api, failing["endpoint_id"], lambda d: d and d[0]["attempts"])
    api.set_clock(iso(T0 + timedelta(days=5, seconds=1)))
    member_id = unique("m")
    api.enroll(member_id)
    deadline = time.monotonic() + 20
    while api.get(f"/v1/webhooks/{failing['endpoint_id']}", key=ADMIN).json["status"] != "disabled":
        assert time.monotonic() < deadline, log(api, failing["endpoint_id"])
        time.sleep(0.1)
    assert api.get(f"/v1/webhooks/{failing['endpoint_id']}", key=ADMIN).json["disabled_reason"] == "failing"

    # a disabled endpoint gets nothing until it is enabled again; what happened meanwhile is not sent
    before = len(receiver.messages("/gone"))
    api.enroll(unique("m"))
    time.sleep(1.5)
    assert len(receiver.messages("/gone")) == before
    replies["/gone"] = Reply(204)
    enabled = api.request("PATCH", f"/v1/webhooks/{gone['endpoint_id']}", {"status": "enabled"}, key=ADMIN)
    assert (enabled.json["status"], enabled.json["disabled_reason"]) == ("enabled", None)
    later = unique("m")
    api.enroll(later)
    got = receiver.wait_for(before + 1, "/gone")
    assert got[-1].json["data"]["member_id"] == later


def signed_by(secret: str, message: Any) -> bool:
    """Whether one of the message's signatures is the secret's: the library's own signing of the message's id,
    timestamp and body (its `verify` also wants the timestamp within 5 minutes of the wall clock, which a test
    that moves the stack's clock a day ahead is not)."""
    at = datetime.fromtimestamp(int(message.headers["webhook-timestamp"]), UTC)
    expected = Webhook(secret).sign(message.headers["webhook-id"], at, message.body.decode())
    return expected in message.headers["webhook-signature"].split(" ")


def test_rotation_signs_with_both_secrets_for_a_day(api: Client, receiver: Receiver, endpoints: list[str]) -> None:
    endpoint = create(api, endpoints, receiver.url(), ["MemberEnrolled"])
    old = endpoint["secret"]
    rotated = api.post(f"/v1/webhooks/{endpoint['endpoint_id']}/rotate-secret", key=ADMIN)
    assert rotated.status == 200 and rotated.json["secret"] != old
    new = rotated.json["secret"]
    api.enroll(unique("m"))
    [message] = receiver.wait_for(1)
    signatures = message.headers["webhook-signature"].split(" ")
    assert len(signatures) == 2
    Webhook(new).verify(message.body, message.headers)
    Webhook(old).verify(message.body, message.headers)
    Webhook(new).verify(message.body, {**message.headers, "webhook-signature": signatures[0]})  # the new one first
    assert "secret" not in api.get(f"/v1/webhooks/{endpoint['endpoint_id']}", key=ADMIN).json

    # the old secret's signature stops 24 hours after the rotation
    api.set_clock(iso(datetime.now(UTC) + timedelta(hours=24, minutes=1)))
    api.enroll(unique("m"))
    later = receiver.wait_for(2)[-1]
    assert len(later.headers["webhook-signature"].split(" ")) == 1
    assert signed_by(new, later) and not signed_by(old, later)
    assert signed_by(new, message) and signed_by(old, message)


def test_faults_of_a_receiver(api: Client, receiver: Receiver, endpoints: list[str]) -> None:
    """A receiver that resets the connection, answers a huge body, answers 500, or never answers: each attempt
    says what happened, and none holds up another endpoint."""
    api.set_clock(iso(T0))
    replies = {
        "/reset": Reply(reset=True),
        "/huge": Reply(200, body_bytes=50 * 1024 * 1024),
        "/error": Reply(500),
        "/hang": Reply(200, delay=17),
        "/fine": Reply(200),
    }
    receiver.reply = lambda got: replies[got.path]
    made = {path: create(api, endpoints, receiver.url(path), ["MemberEnrolled"]) for path in replies}
    started = time.monotonic()
    api.enroll(unique("m"))
    wait_log(api, made["/fine"]["endpoint_id"], lambda d: d and d[0]["status"] == "succeeded")
    assert time.monotonic() - started < 10  # the hanging receiver holds up no other endpoint
    [huge] = wait_log(api, made["/huge"]["endpoint_id"], lambda d: d and d[0]["status"] == "succeeded")
    assert huge["attempts"][0]["response_status"] == 200  # 64 KiB of it read, the rest never
    [reset] = wait_log(api, made["/reset"]["endpoint_id"], lambda d: d and d[0]["attempts"])
    assert reset["attempts"][0]["response_status"] is None and "reset" in reset["attempts"][0]["error"]
    [error] = wait_log(api, made["/error"]["endpoint_id"], lambda d: d and d[0]["attempts"])
    assert (error["attempts"][0]["response_status"], error["attempts"][0]["error"]) == (500, None)
    [hang] = wait_log(api, made["/hang"]["endpoint_id"], lambda d: d and d[0]["attempts"], timeout=30)
    assert hang["status"] == "pending" and hang["attempts"][0]["response_status"] is None
    assert hang["attempts"][0]["error"] == "no answer within 15 s"
    assert 15000 <= hang["attempts"][0]["duration_ms"] < 17000


def test_nothing_is_lost_when_a_receiver_comes_back(api: Client, receiver: Receiver, endpoints: list[str]) -> None:
    """The receiver is down (connection refused) while members enrol and earn; it comes back within the schedule
    and every event reaches it, each under its own webhook-id, whatever was sent twice."""
    api.set_clock(iso(T0))
    down = Receiver()
    url = down.url()
    down.close()  # nothing listens there now: connection refused
    endpoint = create(api, endpoints, url, ["MemberEnrolled", "PointsEarned"])
    members = [unique("m") for _ in range(8)]
    for member_id in members:
        api.enroll(member_id)
        api.post("/v1/earn", {"member_id": member_id, "order_id": unique("o"), "amount": "12.00", "currency": "USD"})
    wait_log(api, endpoint["endpoint_id"], lambda d: len(d) == 16 and all(x["attempts"] for x in d))
    assert {x["attempts"][0]["error"] for x in log(api, endpoint["endpoint_id"])} == {"connection refused"}
    back = Receiver()
    try:
        api.request("PATCH", f"/v1/webhooks/{endpoint['endpoint_id']}", {"url": back.url()}, key=ADMIN)
        api.set_clock(iso(T0 + timedelta(seconds=6)))
        got = back.wait_for(16)
        wait_log(api, endpoint["endpoint_id"], lambda d: all(x["status"] == "succeeded" for x in d))
        events = api.get("/_local/events", key=None).json["events"]
        expected = {
            e["detail"]["event_id"]
            for e in events
            if e["detail_type"] in ("MemberEnrolled", "PointsEarned") and e["detail"].get("member_id") in members
        }
        assert {m.headers["webhook-id"] for m in got} == expected and len(expected) == 16
    finally:
        back.close()


def test_the_delivery_log_pages_newest_first(api: Client, receiver: Receiver, endpoints: list[str]) -> None:
    endpoint = create(api, endpoints, receiver.url(), ["MemberEnrolled"])
    for _ in range(5):
        api.enroll(unique("m"))
        time.sleep(1.05)  # a delivery id starts with its event's second
    receiver.wait_for(5)
    pages, cursor = [], ""
    while True:
        page = api.get(f"/v1/webhooks/{endpoint['endpoint_id']}/deliveries?limit=2{cursor}", key=ADMIN).json
        pages.append(page["deliveries"])
        if not page["next_cursor"]:
            break
        cursor = f"&cursor={page['next_cursor']}"
    listed = [d for page in pages for d in page]
    assert [len(p) for p in pages] == [2, 2, 1]
    assert [d["created_at"] for d in listed] == sorted((d["created_at"] for d in listed), reverse=True)
    bad = api.get(f"/v1/webhooks/{endpoint['endpoint_id']}/deliveries?cursor=xyz", key=ADMIN)
    assert (bad.status, bad.json["error"]["code"]) == (422, "validation_error")
    wrong = api.get(f"/v1/webhooks/{endpoint['endpoint_id']}/deliveries?status=done", key=ADMIN)
    assert wrong.status == 422


def test_an_event_s_time_on_the_bus_is_when_it_happened(api: Client, receiver: Receiver, endpoints: list[str]) -> None:
    """The outbox gives each event the time it happened (by the stack's clock), not the moment it reached the bus:
    the same however often it is published, so its delivery (whose id starts with that time) is made once, and the
    log reads in the order things happened."""
    api.set_clock(iso(T0))
    endpoint = create(api, endpoints, receiver.url(), ["MemberEnrolled"])
    member_id = unique("m")
    api.enroll(member_id)
    [message] = receiver.wait_for(1)
    events = api.get("/_local/events?detail_type=MemberEnrolled", key=None).json["events"]
    [event] = [e for e in events if e["detail"]["member_id"] == member_id]
    assert event["time"] == iso(T0)
    [delivery] = log(api, endpoint["endpoint_id"])
    assert delivery["delivery_id"].startswith("20270310T120000Z-")
    assert message.headers["webhook-id"] == event["detail"]["event_id"] == delivery["event_id"]
