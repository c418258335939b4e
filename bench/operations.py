"""DynamoDB round trips and capacity units per API operation, through the real handlers against moto.

Every function is warmed first (one execution environment, as a warm Lambda: programme, secrets and
clients loaded), then each operation is measured once on a fresh member, in the order a member's life
takes them. Setup steps (a hold to void...) are not measured.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bench import world
from bench.capacity import table_shape
from bench.meter import Meter, Usage
from loyalty_local import sample_events

# budgets from the issue: DynamoDB round trips an operation may take
BUDGETS: dict[str, tuple[str, int]] = {
    "earn_first": ("<=", 2),
    "earn_replay": ("<=", 2),
    "member_read": ("==", 1),
    "lookup": ("==", 1),
    "partner_redeem": ("<=", 2),
    "checkout_quote": ("<=", 2),
    "checkout_order": ("<=", 2),
    # v1.2: an earn into an account's pool (the process has seen its member: the pool is read with it)
    "earn_pooled": ("<=", 2),
    # the events publisher's full batch: its counters in two transactions, its events kept in two calls
    "outbox_batch": ("<=", 4),
}

# the keys the issue names, then extras that help read them
KEYS = [
    "enroll",
    "member_read",
    "lookup",
    "earn_first",
    "earn_replay",
    "earn_preview",
    "refund",
    "activity",
    "partner_redeem",
    "redeem_hold",
    "redeem_capture",
    "redeem_cancel",
    "checkout_quote",
    "checkout_order",
    "ledger_page",
    "earn_pooled",
    "pay_from_pool",
    "transfer",
]


def budget_holds(key: str, round_trips: int) -> bool | None:
    if key not in BUDGETS:
        return None
    op, limit = BUDGETS[key]
    return round_trips <= limit if op == "<=" else round_trips == limit


def meter() -> Meter:
    from tests.support.aws import TEMPLATE

    tables = TEMPLATE.of_type("AWS::DynamoDB::Table")
    ((logical_id, resource),) = tables.items()
    return Meter(table_shape(TEMPLATE.physical_name(logical_id), TEMPLATE.resolve(resource["Properties"])))


SEASONED_MONTHS = 36


def write_seasoned_member(member_id: str, months: int = SEASONED_MONTHS) -> int:
    """A member with `months` of history, written straight to the table: an order a week (qualifying
    and spend months), three reviews a month (counters), a year of unexpired points in 13 buckets.
    None of these maps is pruned by the product, so this is the size a member of that age has.
    Answers the item's size in bytes."""
    from decimal import Decimal

    from loyalty.domain.model import Member
    from loyalty.kernel.clock import utcnow
    from loyalty.kernel.months import add_months, month_of
    from loyalty.store import core
    from loyalty.store.codecs import member_to_item

    from bench.capacity import item_size

    now = utcnow()
    this_month = month_of(now)
    past = [add_months(this_month, -i) for i in range(months)]
    buckets = {add_months(this_month, 12 - i): 150 for i in range(13)}
    member = Member(
        member_id=member_id,
        email=f"{member_id}@example.com",
        name="Seasoned Member",
        channel="web",
        enrolled_at=now.replace(year=now.year - months // 12),
        tier_id="silver",
        tier_since=now,
        tier_reached_at=now,
        available=sum(buckets.values()),
        lifetime_earned=sum(buckets.values()) + 5000,
        lifetime_redeemed=5000,
        buckets=buckets,
        qualifying={m: 150 for m in past},
        spend={m: Decimal("152.40") for m in past},
        counters={f"activity:review:{m}": 3 for m in past},
        orders=4 * months,
        entries=7 * months,
        version=7 * months,
    )
    item = core.to_item(member_to_item(member))
    core.client().put_item(TableName=core.table_name(), Item=item)
    return item_size(item)


OUTBOX_ROUNDS = 25  # a member's first steps (enrol, earn 120.00): four stream records a round, a full batch of 100


def walked_stream_batch(prefix: str) -> list[dict[str, Any]]:
    """The stream records, as the template's filter passes them, of OUTBOX_ROUNDS new members enrolled and
    earning once: a full batch of the events publisher (BatchSize 100)."""
    from tests.support import streams

    already = len(streams.records())
    for n in range(OUTBOX_ROUNDS):
        world.enroll(f"{prefix}-{n}")
        world.earn(f"{prefix}-{n}", f"{prefix}-{n}-o1")
    batch = streams.delivered(streams.records()[already:])
    if len(batch) != 4 * OUTBOX_ROUNDS:
        raise world.BenchError(f"the walk left {len(batch)} stream records for the events publisher, not 100")
    return batch


def join_a_pool(member_id: str, account_id: str, order_id: str) -> None:
    """A buyer of a new account (share 10), who has earned into its pool once."""
    company = {"account_id": account_id, "kind": "company", "name": "Bench Ltd", "member_share_percent": 10}
    world.request("CreateAccount", company, expect=(201,))
    world.enroll(member_id)
    joined = {"member_id": member_id, "role": "buyer"}
    world.request("AddAccountMember", joined, path_params={"account_id": account_id}, expect=(200,))
    world.earn(member_id, order_id, "500.00")


def deliver_batch(batch: list[dict[str, Any]]) -> None:
    from tests.support import streams

    failed = streams.deliver(batch)
    if failed:
        raise world.BenchError(f"the events publisher reported {len(failed)} of its batch failed")


def scenario(member: str, tag: str) -> list[tuple[str, Callable[[], Any], Callable[[], Any] | None]]:
    """(key, measured step, unmeasured setup run before it) for one member's life."""
    order = {"member_id": member, "order_id": f"{tag}-order-1", "amount": "500.00", "currency": "USD"}
    referred = f"{member}-friend"
    phone = "+1555" + str(sum(map(ord, tag))).zfill(7)  # one per scenario run
    # at the till: a latte free for 300 points, 100 points off the sandwich, the rest earns
    basket = {**sample_events.BASKET, "member_id": member, "points": 100}
    batch: list[dict[str, Any]] = []  # the outbox's batch, made by its setup

    def top_up() -> Any:  # 320 points by then: enough for the reward and the points payment
        body = {"adjustment_id": f"{tag}-till", "points": 200, "reason": "bench"}
        return world.request("Adjust", body, path_params={"member_id": member}, expect=(201,))

    return [
        ("enroll", lambda: world.enroll(member), None),
        (
            "lookup",  # the member holds a phone from here on: its writes below also write the by-phone index
            lambda: world.request("Lookup", {"phone": phone}, expect=(200,)),
            lambda: world.request("UpdateProfile", {"phone": phone}, path_params={"member_id": member}, expect=(200,)),
        ),
        ("member_read", lambda: world.read_member(member), None),
        ("earn_first", lambda: world.request("Earn", order, expect=(201,)), None),
        ("earn_replay", lambda: world.request("Earn", order, expect=(200,)), None),
        (
            "earn_preview",
            lambda: world.request("EarnPreview", {**order, "order_id": f"{tag}-order-2"}, expect=(200,)),
            None,
        ),
        (
            "refund",
            lambda: world.request(
                "Refund",
                {
                    "member_id": member,
                    "order_id": order["order_id"],
                    "refund_id": f"{tag}-refund-1",
                    "amount": "100.00",
                },
                expect=(201,),
            ),
            None,
        ),
        (
            "activity",
            lambda: world.request(
                "Activity", {"member_id": member, "activity_id": f"{tag}-review-1", "type": "review"}, expect=(201,)
            ),
            None,
        ),
        ("partner_redeem", lambda: world.partner_redeem(member, f"{tag}-red-1"), None),
        (
            "redeem_cancel",
            lambda: world.request(
                "PartnerCancel",
                {},
                partner="demo-partner",
                path_params={"redemption_id": f"{tag}-red-1"},
                expect=(200,),
            ),
            None,
        ),
        ("redeem_hold", lambda: world.pay_with_points(member, f"{tag}-hold-1", capture=False), None),
        (
            "redeem_capture",
            lambda: world.request("Capture", {}, path_params={"redemption_id": f"{tag}-hold-1"}, expect=(200,)),
            None,
        ),
        (
            "redeem_void",
            lambda: world.request("Void", {}, path_params={"redemption_id": f"{tag}-hold-2"}, expect=(200, 201)),
            lambda: world.pay_with_points(member, f"{tag}-hold-2", capture=False),
        ),
        ("pay_with_points", lambda: world.pay_with_points(member, f"{tag}-pwp-1"), None),
        ("checkout_quote", lambda: world.request("CheckoutQuote", basket, expect=(200,)), top_up),
        (
            "checkout_order",
            lambda: world.request("CheckoutOrder", {**basket, "order_id": f"{tag}-till-1"}, expect=(201,)),
            None,
        ),
        (
            "ledger_page",
            lambda: world.request("GetLedger", path_params={"member_id": member}, query={"limit": "50"}, expect=(200,)),
            None,
        ),
        (
            "earn_first_seasoned",
            lambda: world.request(
                "Earn", {**order, "member_id": f"{member}-old", "order_id": f"{tag}-order-4"}, expect=(201,)
            ),
            lambda: write_seasoned_member(f"{member}-old"),
        ),
        ("outbox_batch", lambda: deliver_batch(batch), lambda: batch.extend(walked_stream_batch(f"{tag}-walk"))),
        (
            "earn_pooled",  # the member joined (setup) and earned once: the process knows its account
            lambda: world.request(
                "Earn", {**order, "member_id": f"{member}-buyer", "order_id": f"{tag}-order-6"}, expect=(201,)
            ),
            lambda: join_a_pool(f"{member}-buyer", f"{tag}-acct", f"{tag}-order-5"),
        ),
        (
            "pay_from_pool",
            lambda: world.pay_with_points(f"{member}-buyer", f"{tag}-pool-pwp", account_id=f"{tag}-acct"),
            None,
        ),
        (
            "transfer",
            lambda: world.request(
                "Transfer",
                {"transfer_id": f"{tag}-gift", "from_member_id": member, "to_account_id": f"{tag}-acct", "points": 10},
                expect=(201,),
            ),
            None,
        ),
        (
            "earn_first_referred",
            lambda: world.request(
                "Earn", {**order, "member_id": referred, "order_id": f"{tag}-order-3"}, expect=(201,)
            ),
            lambda: world.enroll(referred, referred_by=member),
        ),
    ]


def measure() -> dict[str, Any]:
    """Run the scenario once to warm every function, then measured on a fresh member."""
    for _, step, setup in scenario("bench-warm", "warm"):
        if setup:
            setup()
        step()
    m = meter()
    m.install()
    usages: dict[str, Usage] = {}
    try:
        for key, step, setup in scenario("bench-1", "b1"):
            if setup:
                setup()
            with m.measure() as usage:
                step()
            usages[key] = usage
    finally:
        m.uninstall()
    return summarise(usages)


def summarise(usages: dict[str, Usage]) -> dict[str, Any]:
    trips: dict[str, Any] = {}
    capacity: dict[str, Any] = {}
    for key, usage in usages.items():
        trips[key] = {
            **usage.as_dict(),
            "budget": _budget_text(key),
            "budget_holds": budget_holds(key, len(usage.calls)),
        }
        capacity[key] = usage.capacity()
    return {"ddb_round_trips": trips, "capacity": capacity}


def _budget_text(key: str) -> str | None:
    if key not in BUDGETS:
        return None
    op, limit = BUDGETS[key]
    return f"{op} {limit}"


def broken_budgets(results: dict[str, Any]) -> list[str]:
    trips = results.get("ddb_round_trips") or {}
    return [
        f"{k}: {v['round_trips']} round trips, budget {v['budget']}"
        for k, v in trips.items()
        if v["budget_holds"] is False
    ]
