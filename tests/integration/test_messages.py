"""Messages for members (v1.2): RewardUnlocked from the table stream, TierDowngradeUpcoming from the monthly tier
evaluation (docs/messages.md)."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime
from typing import Any

import boto3
import pytest
from loyalty.kernel.clock import CLOCK
from loyalty.members import enrolment, lifecycle
from loyalty.program import rules as programs
from loyalty.program.rules import current_program
from loyalty.store import core
from loyalty.store.members import load_member

from tests.support import jobs, streams
from tests.support.aws import api_event, call


def earn(member_id: str, order_id: str, amount: str, **extra: Any) -> dict[str, Any]:
    body = {"member_id": member_id, "order_id": order_id, "amount": amount, "currency": "USD", **extra}
    status, answer, _ = call("EarnFunction", api_event("Earn", body=body))
    assert status == 201, answer
    return answer


def enroll(member_id: str) -> None:
    enrolment.enroll(current_program(), member_id=member_id, channel="web")


def published(detail_type: str, member_id: str | None = None) -> list[dict[str, Any]]:
    return [
        e["detail"]
        for e in streams.published()
        if e["detail-type"] == detail_type and (member_id is None or e["detail"].get("member_id") == member_id)
    ]


def unlocked(member_id: str) -> list[tuple[str, int, int]]:
    return [(d["reward_id"], d["points"], d["balance"]) for d in published("RewardUnlocked", member_id)]


def with_rewards(*extra: dict[str, Any]) -> None:
    demo = programs.bundled_program()
    rewards = [*demo.rewards, *(programs.Reward.model_validate(r) for r in extra)]
    programs.PROGRAMS.override(demo.model_copy(update={"rewards": rewards}))


@pytest.fixture
def now(aws: dict[str, Any]) -> Any:
    CLOCK.set(datetime(2026, 5, 10, 9, tzinfo=UTC))
    yield CLOCK
    CLOCK.set(None)


# -- RewardUnlocked --------------------------------------------------------------------------------
def test_the_signup_bonus_and_each_earn_unlock_each_reward_once_when_the_balance_crosses_its_cost(now: Any) -> None:
    enroll("rw-1")  # 100 points: free-item (50)
    earn("rw-1", "o-1", "60.00")  # 160: coffee (150)
    earn("rw-1", "o-2", "10.00")  # 170: nothing crossed
    earn("rw-1", "o-3", "200.00")  # 370: free-drink (300); lounge-pass (800) is gold only
    streams.poller().flush()

    assert unlocked("rw-1") == [("free-item", 50, 100), ("coffee", 150, 160), ("free-drink", 300, 370)]
    member = load_member("rw-1")
    assert member is not None and member.available == 370
    event = published("RewardUnlocked", "rw-1")[1]
    assert set(event) == {"version", "event_id", "member_id", "sequence", "reward_id", "points", "balance", "at"}
    assert event["sequence"] == 2  # the member's ledger length after the write


def test_a_reward_the_tier_may_not_take_is_not_unlocked_but_is_for_a_tier_that_may(now: Any) -> None:
    jobs.write_members([jobs.member("rw-red", buckets={"2027-04": 700}), jobs.member("rw-gold", tier_id="gold")])
    earn("rw-red", "o-r", "150.00")  # 700 → 850 (a red member: ×1.0)
    earn("rw-gold", "o-g", "450.00")  # 0 → 900 (gold: ×2.0): free-item, coffee, free-drink and lounge-pass
    streams.poller().flush()

    # (the member written straight to the table is an INSERT: its 700 points unlocked what they cover then)
    assert [r for r, _, balance in unlocked("rw-red") if balance == 850] == []  # lounge-pass is gold only
    assert [r for r, _, _ in unlocked("rw-gold")] == ["free-item", "coffee", "lounge-pass", "free-drink"]
    assert {b for _, _, b in unlocked("rw-gold")} == {900}


def test_an_order_that_upgrades_the_member_unlocks_what_the_new_tier_may_take(now: Any) -> None:
    # 2,000 qualifying this month: an order of 600.00 reaches gold (2,500) and earns at red's ×1.0 (the old tier)
    jobs.write_members([jobs.member("rw-up", buckets={"2027-04": 300}, qualifying={"2026-05": 2000})])
    earn("rw-up", "o-up", "600.00")  # 300 → 900, gold after the write
    streams.poller().flush()

    assert load_member("rw-up").tier_id == "gold"  # type: ignore[union-attr]
    assert [(r, b) for r, _, b in unlocked("rw-up") if b == 900] == [("lounge-pass", 900)]


def test_a_fall_and_a_rise_again_unlock_again_but_a_write_that_stays_above_does_not(now: Any) -> None:
    from loyalty.members import records

    enroll("rw-2")  # 100: free-item
    assert records.adjust(current_program(), "rw-2", "a-1", -80, "correction").status == 201  # 20
    assert records.adjust(current_program(), "rw-2", "a-2", 40, "goodwill").status == 201  # 60: free-item again
    assert records.adjust(current_program(), "rw-2", "a-3", 10, "goodwill").status == 201  # 70: nothing
    streams.poller().flush()

    assert unlocked("rw-2") == [("free-item", 50, 100), ("free-item", 50, 60)]
    ids = [d["event_id"] for d in published("RewardUnlocked", "rw-2")]
    assert len(set(ids)) == 2  # two crossings: two messages


def test_a_suspended_member_gets_no_message(now: Any) -> None:
    jobs.write_members([jobs.member("rw-sus", buckets={"2027-04": 40})])
    from loyalty.members import records

    lifecycle.set_status(current_program(), "rw-sus", "suspended", "fraud check")
    assert records.adjust(current_program(), "rw-sus", "a-s", 20, "goodwill").status == 201  # 40 → 60
    streams.poller().flush()

    assert load_member("rw-sus").available == 60  # type: ignore[union-attr]
    assert unlocked("rw-sus") == []


def test_rewards_outside_their_window_or_out_of_stock_are_not_unlocked(now: Any) -> None:
    with_rewards(
        {"id": "past", "name": "Past", "points": 55, "partner_id": "demo-partner", "active_until": "2026-04-30"},
        {"id": "future", "name": "Future", "points": 56, "partner_id": "demo-partner", "active_from": "2026-06-01"},
        {"id": "none-left", "name": "None left", "points": 57, "partner_id": "demo-partner", "stock": 0},
        {"id": "now", "name": "Now", "points": 58, "partner_id": "demo-partner", "active_until": "2026-05-10"},
        {"id": "some-left", "name": "Some left", "points": 59, "partner_id": "demo-partner", "stock": 3},
        {"id": "sold-out", "name": "Sold out", "points": 60, "partner_id": "demo-partner", "stock": 5},
    )
    jobs.write_items([{"PK": "REWARD#sold-out", "SK": "STOCK", "remaining": 0}])  # redeemed 5 times
    jobs.write_members([jobs.member("rw-win", buckets={"2027-04": 40})])
    earn("rw-win", "o-w", "30.00")  # 40 → 70
    streams.poller().flush()

    assert [r for r, _, _ in unlocked("rw-win")] == ["free-item", "now", "some-left"]


def test_a_back_dated_earn_at_a_month_end_says_the_balance_after_the_write(aws: dict[str, Any]) -> None:
    CLOCK.set(datetime(2026, 5, 31, 23, 0, tzinfo=UTC))
    jobs.write_members([jobs.member("rw-end", buckets={"2026-05": 30, "2027-04": 10})])
    CLOCK.set(datetime(2026, 6, 1, 0, 10, tzinfo=UTC))  # May is over; its 30 points are not removed yet
    earn("rw-end", "o-late", "15.00", occurred_at="2026-05-31T23:50:00Z")  # 40 → 55, expiring end of 2027-05
    CLOCK.set(None)
    streams.poller().flush()

    member = load_member("rw-end")
    assert member is not None and member.available == 55
    assert unlocked("rw-end") == [("free-item", 50, 55)]
    assert published("RewardUnlocked", "rw-end")[0]["at"] == "2026-06-01T00:10:00Z"


def test_a_redelivered_stream_record_publishes_the_same_event_id(now: Any) -> None:
    enroll("rw-re")
    earn("rw-re", "o-re", "60.00")
    batch = streams.delivered()
    assert streams.deliver(batch) == []
    assert streams.deliver(batch) == []  # Lambda redelivers the whole batch

    events = published("RewardUnlocked", "rw-re")
    assert [d["reward_id"] for d in events] == ["free-item", "coffee", "free-item", "coffee"]
    ids = Counter(d["event_id"] for d in events)
    assert sorted(ids.values()) == [2, 2]


def test_an_accounts_pool_publishes_no_reward_unlocked(now: Any) -> None:
    from loyalty.domain.events import Change, events_for
    from loyalty.domain.model import Account

    at = datetime(2026, 5, 1, tzinfo=UTC)
    before = Account(account_id="acc-1", kind="household", name="Home", max_members=5, created_at=at, tier_id="red",
                     tier_since=at, available=10)  # fmt: skip
    after = before.model_copy(update={"available": 400, "version": 1})
    assert events_for(Change("MODIFY", "account", before, after), current_program()) == []


# -- TierDowngradeUpcoming -------------------------------------------------------------------------
AS_OF = "2026-03-01"  # evaluates 2025-03 … 2026-02; the next evaluation, 2026-04-01, 2025-04 … 2026-03


def tier_warnings() -> list[dict[str, Any]]:
    items = boto3.client("dynamodb").scan(
        TableName=core.table_name(),
        FilterExpression="kind = :k",
        ExpressionAttributeValues={":k": {"S": "tier_warning"}},
    )["Items"]
    return [core.from_item(i) for i in items]


def test_a_kept_tier_that_the_next_evaluation_would_drop_is_announced_with_its_figures(aws: dict[str, Any]) -> None:
    from loyalty.tiers import grants as tier_grants

    CLOCK.set(datetime(2026, 3, 1, 1, tzinfo=UTC))
    jobs.write_members(
        [
            # silver (1,000): 1,100 in the window now; without 2025-03's 600, 500 at the next evaluation
            jobs.member("dg-silver", tier_id="silver", qualifying={"2025-03": 600, "2025-10": 500}),
            jobs.member("dg-kept", tier_id="silver", qualifying={"2025-03": 600, "2025-12": 1500}),  # 1,500 then
            jobs.member("dg-red", qualifying={"2025-03": 600}),  # the lowest tier: nothing to drop
            jobs.member("dg-vip", tier_id="silver", qualifying={"2025-03": 600, "2025-10": 500}),
        ]
    )
    tier_grants.override(current_program(), "dg-vip", "silver", "VIP", date(2026, 6, 30))  # kept past 2026-04-01
    jobs.run("tier-evaluation", AS_OF)
    jobs.run("tier-evaluation", AS_OF)  # a re-run: nothing again
    CLOCK.set(None)
    streams.poller().flush()

    assert load_member("dg-silver").tier_id == "silver"  # type: ignore[union-attr]
    events = published("TierDowngradeUpcoming")
    assert [(d["member_id"], d["tier_id"], d["evaluation_on"]) for d in events] == [
        ("dg-silver", "silver", "2026-04-01")
    ]
    assert (events[0]["threshold"], events[0]["qualifying_then"], events[0]["remaining"]) == (1000, 500, 500)
    assert len(tier_warnings()) == 1


def test_a_tier_the_evaluation_changes_is_not_announced_and_an_account_is_announced_by_account_id(
    aws: dict[str, Any],
) -> None:
    from loyalty.domain.model import Account
    from loyalty.store.codecs import account_to_item

    CLOCK.set(datetime(2026, 3, 1, 1, tzinfo=UTC))
    at = datetime(2025, 1, 1, tzinfo=UTC)
    pool = Account(
        account_id="dg-acc",
        kind="company",
        name="Acme",
        max_members=5,
        created_at=at,
        tier_id="silver",
        tier_since=at,
        tier_reached_at=at,
        qualifying={"2025-03": 900, "2025-05": 200},  # 1,100 now; 200 at the next evaluation
        version=1,
    )

    jobs.write_items([account_to_item(pool)])
    jobs.write_members([jobs.member("dg-gold-0", tier_id="gold", qualifying={"2025-03": 1200})])  # gold → silver
    jobs.run("tier-evaluation", AS_OF)
    CLOCK.set(None)
    streams.poller().flush()

    events = published("TierDowngradeUpcoming")
    assert [(d.get("member_id"), d.get("account_id"), d["qualifying_then"], d["remaining"]) for d in events] == [
        (None, "dg-acc", 200, 800)
    ]
