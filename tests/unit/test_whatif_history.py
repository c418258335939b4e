"""The what-if history (pure): items back into requests, their order, and the jobs' schedule."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from loyalty_local.whatif.history import JobRun, requests_of
from loyalty_local.whatif.replay import schedule


def _member(member_id: str, **extra: Any) -> dict[str, Any]:
    return {
        "PK": f"MEMBER#{member_id}",
        "kind": "member",
        "member_id": member_id,
        "channel": "web",
        "enrolled_at": "2026-01-03T12:00:00Z",
        "status": "active",
        **extra,
    }


def _entry(member_id: str, seq: int, key: str, kind: str, points: int, at: str, **details: Any) -> dict[str, Any]:
    return {
        "PK": f"ENTRY#{key}",
        "kind": "entry",
        "member_id": member_id,
        "seq": Decimal(seq),
        "key": key,
        "type": kind,
        "points": Decimal(points),
        "reference": key.rsplit("#", 1)[-1],
        "occurred_at": at,
        "recorded_at": at,
        "details": details,
    }


STEP = "2026-01-03T12:00:00Z"


def test_a_referred_members_first_order_goes_between_the_referrers_lines_around_its_bonus() -> None:
    # one instant (a simulated step): a1 earns, then is paid b2's referral, then spends it at a partner;
    # by member id alone a1's redemption would come before b2's order and find the bonus missing
    items = [
        _member("a1"),
        _member("b2", referred_by="a1"),
        _entry("a1", 1, "signup#a1", "bonus", 100, STEP),
        _entry("a1", 2, "earn#o1", "earn", 10, STEP, amount="10.00", currency="USD"),
        _entry("a1", 3, "referral#b2", "bonus", 250, STEP),
        _entry("a1", 4, "redeem#p#r1", "redeem", -300, STEP, partner_id="p", reward_id="big"),
        _entry("b2", 1, "signup#b2", "bonus", 100, STEP),
        _entry("b2", 2, "earn#o2", "earn", 50, STEP, amount="50.00", currency="USD"),
    ]
    history = requests_of(items)
    order = [(r.what, r.member_id, r.body and r.body.get("order_id")) for r in history.requests]
    assert order == [
        ("enrol", "a1", None),
        ("enrol", "b2", None),
        ("earn", "a1", "o1"),
        ("earn", "b2", "o2"),
        ("partner_redeem", "a1", None),
    ]
    assert history.skipped == {"signup": 2, "referral": 1}
    redeem = history.requests[-1]
    assert redeem.partner_id == "p" and redeem.path == "/v1/partners/p/redemptions"
    assert redeem.body == {"redemption_id": "r1", "member_id": "a1", "reward_id": "big", "occurred_at": STEP}


def test_each_entry_becomes_the_request_that_made_it() -> None:
    lines = [{"sku": "latte", "category": "drinks", "amount": "4.50", "quantity": Decimal(1)}]
    items = [
        _member("m", status="closed", status_changed_at="2026-02-01T09:00:00Z", status_reason="left"),
        _entry(
            "m",
            2,
            "earn#c1",
            "earn",
            3,
            STEP,
            amount="3.00",
            currency="USD",
            items=lines,
            checkout={"rewards": ["free-drink"], "points_payment": {"points": Decimal(100)}},
        ),
        _entry("m", 3, "checkout_reward#c1#free-drink", "redeem", -300, STEP),
        _entry("m", 4, "pwp#h1", "redeem", -100, STEP, status="held"),
        _entry("m", 5, "pwp_cancel#h1", "redeem_cancel", 100, "2026-01-03T12:31:00Z", status="released"),
        _entry("m", 6, "pwp#h2", "redeem", -100, STEP, status="held"),
        _entry("m", 7, "close#m", "adjust", -50, "2026-02-01T09:00:00Z", reason="closed"),
        {
            "PK": "HOLD#h2",
            "kind": "hold",
            "redemption_id": "h2",
            "status": "captured",
            "settled_at": "2026-01-03T12:10:00Z",
        },
    ]
    history = requests_of(items)
    by_what = {r.what: r for r in history.requests}
    assert set(by_what) == {"enrol", "checkout", "pay_with_points", "release", "capture", "close"}
    checkout = by_what["checkout"]
    assert checkout.path == "/v1/checkout/orders" and checkout.body == {
        "member_id": "m",
        "order_id": "c1",
        "currency": "USD",
        "occurred_at": STEP,
        "items": [{"sku": "latte", "category": "drinks", "amount": "4.50", "quantity": 1}],
        "rewards": ["free-drink"],
        "points": 100,
    }
    assert by_what["release"].job == "hold-release" and by_what["release"].at == datetime(
        2026, 1, 3, 12, 31, tzinfo=UTC
    )
    assert by_what["capture"].path == "/v1/redemptions/h2/capture"
    assert by_what["close"].body == {"status": "closed", "reason": "replayed"}  # no free text is kept
    assert history.skipped == {"checkout_reward": 1, "close": 1}
    # the hold that was released is replayed as a held redemption, the captured one too
    holds = [r.body for r in history.requests if r.what == "pay_with_points"]
    assert [h["capture"] for h in holds if h] == [False, False]


def test_without_recorded_runs_the_monthly_jobs_run_on_each_first_and_pending_activation_daily() -> None:
    items = [
        _member("m", enrolled_at="2026-01-30T12:00:00Z"),
        _entry("m", 2, "earn#o1", "earn", 10, "2026-03-02T08:00:00Z", amount="10.00", currency="USD"),
    ]
    history = requests_of(items)
    runs = schedule(history, daily=False)
    assert [(r.at.isoformat(), r.job, r.as_of) for r in runs] == [
        ("2026-02-01T00:05:00+00:00", "expiry", "2026-02-01"),
        ("2026-02-01T00:05:00+00:00", "tier-evaluation", "2026-02-01"),
        ("2026-03-01T00:05:00+00:00", "expiry", "2026-03-01"),
        ("2026-03-01T00:05:00+00:00", "tier-evaluation", "2026-03-01"),
    ]
    daily = [r for r in schedule(history, daily=True) if r.job == "pending-activation"]
    assert daily[0].as_of == "2026-01-31" and daily[-1].as_of == "2026-03-02" and len(daily) == 31

    recorded = JobRun(datetime(2026, 2, 1, 0, 7, tzinfo=UTC), "expiry", "2026-02-01")
    history.jobs = [recorded]
    assert schedule(history, daily=False) == [recorded]  # what the history ran, and nothing more


def test_recorded_status_changes_replay_in_their_place_in_the_ledger_and_in_version_order() -> None:
    at = "2026-01-05T10:00:00Z"  # one instant (a fixed clock): the positions decide
    audit = {"kind": "status_audit", "member_id": "m", "recorded_at": at}
    items = [
        _member("m", status="active"),
        _entry("m", 1, "signup#m", "bonus", 100, at),
        _entry("m", 2, "earn#o1", "earn", 10, at, amount="10.00", currency="USD"),
        {**audit, "PK": "STATUSAUDIT#m", "SK": "b", "status": "active", "entries": Decimal(1), "version": Decimal(3)},
        {
            **audit,
            "PK": "STATUSAUDIT#m",
            "SK": "a",
            "status": "suspended",
            "entries": Decimal(1),
            "version": Decimal(2),
        },
        {
            "PK": "SUBSCRIPTION#m#s",
            "kind": "subscription",
            "member_id": "m",
            "subscription_id": "s",
            "tier_id": "silver",
            "months": Decimal(1),
            "recorded_at": at,
            "entries": Decimal(2),
            "version": Decimal(5),
        },
    ]
    history = requests_of(items)
    assert [r.what for r in history.requests] == ["enrol", "suspend", "reactivate", "earn", "subscribe"]
    # the member item's own status is not replayed again when its changes were recorded
    assert [r.body for r in history.requests if r.what in ("suspend", "reactivate")] == [
        {"status": "suspended", "reason": "replayed"},
        {"status": "active", "reason": "replayed"},
    ]
