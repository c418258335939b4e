"""A year of a programme's life on a running local stack, through the public API only.

`make seed` (or `python -m loyalty_local.demo_history --url http://127.0.0.1:3000`) walks the local clock
month by month and, on the demo programme, enrols members at the till and on the web, takes their orders
(December's electronics campaign included), reviews, partner redemptions, checkout orders paying with a
free drink, refunds and goodwill adjustments, and runs the monthly jobs (expiry, tier evaluation) on each
1st. What it writes is ordinary history: the console, the reports and the ledger show it as they would a
real programme's. The same seed gives the same history (ids, amounts and days); run it on an empty stack.

`seed()` leaves the stack's clock on the last day it wrote (the browser tests read a history that ends on a
fixed day). `make seed` (`main`) writes the history until yesterday (`--until`) and then gives the stack's
clock back to real time (`{"now": null}`), so what is done next on the stack is stamped now, after the history,
never in its future.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import random
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from loyalty.jobs import registry
from loyalty.kernel.clock import utcnow
from loyalty.kernel.months import add_months

ADMIN = "lk_local_admin"
PARTNERS = {"demo-partner": "demo-partner-secret", "other-partner": "other-partner-secret"}
CATEGORIES = [("groceries", 10, 60), ("home", 15, 90), ("electronics", 40, 250)]
SPEND = [Decimal("0.3"), Decimal("0.8"), Decimal("1.6")]  # members' spending levels: mostly red, some silver, gold


class SeedFailed(Exception):
    """The stack answered something a seeding step never expects (a 5xx, a validation error)."""


@dataclass
class Summary:
    members: int = 0
    requests: int = 0
    by_route: dict[str, int] = field(default_factory=dict)
    refused: dict[str, int] = field(default_factory=dict)  # expected refusals (e.g. insufficient_points)
    until: str = ""


class Stack:
    """A tiny client of the stack: every call is counted; an unexpected answer stops the seeding."""

    def __init__(self, base: str, summary: Summary) -> None:
        if not base.startswith(("http://", "https://")):
            raise SeedFailed(f"{base!r} is not an http(s) URL")
        self.base = base.rstrip("/")
        self.summary = summary

    def call(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | None = None,
        *,
        key: str | None = ADMIN,
        headers: dict[str, str] | None = None,
        ok: tuple[int, ...] = (200, 201),
        refusals: tuple[str, ...] = (),
    ) -> dict[str, Any] | None:
        raw = json.dumps(body, separators=(",", ":")).encode() if body is not None else None
        sent = {"Content-Type": "application/json", **(headers or {})}
        if key:
            sent["Authorization"] = f"Bearer {key}"
        request = urllib.request.Request(self.base + path, data=raw, method=method, headers=sent)  # noqa: S310
        route = f"{method} {path.split('?')[0]}"
        self.summary.requests += 1
        self.summary.by_route[route] = self.summary.by_route.get(route, 0) + 1
        try:
            with urllib.request.urlopen(request, timeout=60) as answer:  # noqa: S310 - http(s) only, checked above
                status, text = answer.status, answer.read()
        except urllib.error.HTTPError as refused:
            status, text = refused.code, refused.read()
        parsed = json.loads(text) if text else {}
        if status in ok:
            return dict(parsed)
        code = (parsed.get("error") or {}).get("code") if isinstance(parsed, dict) else None
        if code in refusals:
            self.summary.refused[code] = self.summary.refused.get(code, 0) + 1
            return None
        raise SeedFailed(f"{route} answered {status}: {text[:300]!r}")

    def set_clock(self, now: datetime) -> None:
        self.call("POST", "/_local/clock", {"now": now.strftime("%Y-%m-%dT%H:%M:%SZ")}, key=None)

    def job(self, name: str, as_of: date) -> None:
        self.call("POST", f"/_local/jobs/{name}", {"as_of": as_of.isoformat()}, key=None)

    def partner(self, partner_id: str, path: str, body: dict[str, Any], refusals: tuple[str, ...]) -> None:
        raw = json.dumps(body, separators=(",", ":"))
        stamp = str(int(time.time()))  # a partner signs with its own wall clock
        mac = hmac.new(PARTNERS[partner_id].encode(), f"{stamp}.{raw}".encode(), hashlib.sha256).hexdigest()
        self.call(
            "POST",
            f"/v1/partners/{partner_id}{path}",
            body,
            key=None,
            headers={"Loyalty-Signature": f"t={stamp},v1={mac}"},
            refusals=refusals,
        )


def month_starts(until: date, months: int) -> list[date]:
    month = until.strftime("%Y-%m")
    return [date.fromisoformat(add_months(month, -back) + "-01") for back in range(months - 1, -1, -1)]


def seed(base: str, *, members: int = 12, months: int = 15, until: date | None = None, seed: int = 7) -> Summary:
    """Write `months` months of history ending on `until` for `members` members (enrolled over the first half)."""
    summary = Summary(until=(until or utcnow().date()).isoformat())
    end = date.fromisoformat(summary.until)
    stack = Stack(base, summary)
    rng = random.Random(seed)  # noqa: S311 - synthetic history, not security
    starts = month_starts(end, months)
    # one member in five enrols in the first month and never comes back: their points expire in the history
    enrol_month = {
        f"m-{n:03d}": 0 if n % 5 == 0 else n * max(1, (months + 1) // 2) // max(1, members)
        for n in range(1, members + 1)
    }
    orders: dict[str, list[tuple[str, Decimal]]] = {}
    enrolled: list[str] = []
    for index, start in enumerate(starts):
        if index:
            stack.set_clock(datetime(start.year, start.month, start.day, 0, 5, tzinfo=UTC))
            for job in registry.MONTHLY_NAMES:  # as the schedules run them on the 1st
                stack.job(job, start)
        next_start = date.fromisoformat(add_months(start.strftime("%Y-%m"), 1) + "-01")
        last_day = min(end, next_start - timedelta(days=1))
        plan: list[tuple[int, int, str, str]] = []  # (day, minute, member, action)
        for member_id, month_index in enrol_month.items():
            if month_index == index:
                plan.append((rng.randint(1, last_day.day), rng.randint(0, 600), member_id, "enrol"))
        for member_id in enrolled:
            if int(member_id.split("-")[1]) % 5 == 0 and index > enrol_month[member_id]:
                continue
            for action, weight in (("order", 2.2), ("review", 0.3), ("partner", 0.35), ("till", 0.4), ("refund", 0.1)):
                for _ in range(int(weight) + (rng.random() < weight - int(weight))):
                    plan.append((rng.randint(1, last_day.day), rng.randint(0, 600), member_id, action))
        if enrolled and rng.random() < 0.5:
            plan.append((rng.randint(1, last_day.day), 700, rng.choice(enrolled), "goodwill"))
        clock = None
        for day, minute, member_id, action in sorted(plan):
            now = datetime(start.year, start.month, day, 8, 0, tzinfo=UTC) + timedelta(minutes=minute // 60 * 60)
            if now != clock:
                stack.set_clock(now)
                clock = now
            _act(stack, rng, action, member_id, now, orders)
            if action == "enrol":
                enrolled.append(member_id)
                summary.members += 1
    stack.set_clock(datetime(end.year, end.month, end.day, 18, 0, tzinfo=UTC))
    return summary


def _act(
    stack: Stack, rng: random.Random, action: str, member_id: str, now: datetime, orders: dict[str, list[Any]]
) -> None:
    number = int(member_id.split("-")[1])
    stamp = f"{now:%Y%m%d%H}-{rng.randrange(10**6):06d}"
    if action == "enrol":
        stack.call(
            "POST",
            "/v1/members",
            {
                "member_id": member_id,
                "channel": "pos" if number % 3 else "web",
                "name": f"Member {number}",
                "email": f"member{number}@example.com",
                "phone": f"+1415555{number:04d}",
                "card_id": f"card-{number:05d}",
            },
        )
    elif action == "order":
        items: list[dict[str, Any]] = []
        total = Decimal(0)
        for n in range(rng.randint(1, 3)):
            category, low, high = rng.choice(CATEGORIES)
            amount = (Decimal(rng.randint(low * 100, high * 100)) / 100 * SPEND[number % 3]).quantize(Decimal("0.01"))
            items.append({"sku": f"{category}-{n}", "category": category, "amount": f"{amount:.2f}", "quantity": 1})
            total += amount
        order_id = f"web-{member_id}-{stamp}"
        stack.call(
            "POST",
            "/v1/earn",
            {"member_id": member_id, "order_id": order_id, "amount": f"{total:.2f}", "currency": "USD", "items": items},
            refusals=("member_inactive",),
        )
        orders.setdefault(member_id, []).append((order_id, total))
    elif action == "review":
        stack.call(
            "POST",
            "/v1/activities",
            {"member_id": member_id, "activity_id": f"review-{stamp}", "type": "review"},
            refusals=("activity_limit_reached", "member_inactive"),
        )
    elif action == "partner":
        reward = rng.choice(["coffee", "coffee", "free-item"])
        stack.partner(
            "demo-partner",
            "/redemptions",
            {"redemption_id": f"pr-{member_id}-{stamp}", "member_id": member_id, "reward_id": reward},
            refusals=("insufficient_points", "member_inactive"),
        )
    elif action == "till":
        drink = Decimal(rng.randint(300, 550)) / 100
        stack.call(
            "POST",
            "/v1/checkout/orders",
            {
                "member_id": member_id,
                "order_id": f"till-{member_id}-{stamp}",
                "currency": "USD",
                "items": [
                    {"sku": "latte", "category": "drinks", "amount": f"{drink:.2f}", "quantity": 1},
                    {"sku": "sandwich", "category": "food", "amount": "8.00", "quantity": 1},
                ],
                "rewards": ["free-drink"] if rng.random() < 0.5 else [],
            },
            refusals=("insufficient_points", "member_inactive"),
        )
    elif action == "refund" and orders.get(member_id):
        order_id, total = orders[member_id][-1]
        part = (total * Decimal(rng.choice([25, 50, 100])) / 100).quantize(Decimal("0.01"))
        stack.call(
            "POST",
            "/v1/refunds",
            {"member_id": member_id, "order_id": order_id, "refund_id": f"rf-{order_id}", "amount": f"{part:.2f}"},
            refusals=("refund_exceeds_order", "member_inactive"),
        )
    elif action == "goodwill":
        stack.call(
            "POST",
            f"/v1/members/{member_id}/adjustments",
            {"adjustment_id": f"gw-{member_id}-{stamp}", "points": 50, "reason": "late delivery, goodwill"},
            refusals=("member_inactive",),
        )


def _real_time(base: str) -> None:
    """Give the stack's clock back (`{"now": null}`), whatever stopped the seeding."""
    request = urllib.request.Request(  # noqa: S310 - the stack's own URL
        base.rstrip("/") + "/_local/clock",
        data=b'{"now": null}',
        method="POST",
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=30):  # noqa: S310
            pass
    except (urllib.error.URLError, ValueError):  # the stack is gone or the URL is not one: nothing to give back
        pass


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m loyalty_local.demo_history", description=__doc__.split("\n")[0])
    parser.add_argument("--url", default="http://127.0.0.1:3000", help="the running local stack")
    parser.add_argument("--members", type=int, default=40)
    parser.add_argument("--months", type=int, default=15)
    parser.add_argument(
        "--until", type=date.fromisoformat, default=None, help="last day (YYYY-MM-DD; default: yesterday)"
    )
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    until = args.until or utcnow().date() - timedelta(days=1)  # a whole day before now: nothing ahead of it
    try:
        summary = seed(args.url, members=args.members, months=args.months, until=until, seed=args.seed)
    except (SeedFailed, urllib.error.URLError) as failed:
        print(f"seeding stopped: {failed}", file=sys.stderr)
        return 1
    finally:
        _real_time(args.url)
    print(
        f"{summary.members} members, {summary.requests} requests, history until {summary.until}; "
        "the stack's clock is back to real time"
    )
    if summary.refused:
        print("refused as a real programme would: " + ", ".join(f"{k} {v}" for k, v in sorted(summary.refused.items())))
    return 0


if __name__ == "__main__":
    sys.exit(main())
