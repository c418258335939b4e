"""A table's recorded history, turned back into the requests that made it.

Every write a member's points or tier came from left an item that says what was asked: the ledger
entry of each order (its amount, currency, channel and lines; a checkout order's rewards and points
payment), refund, activity, redemption, cancel and adjustment; the subscription, override and status
change items (each with its place in the member's ledger: the entries before it, the member's version);
the hold items (how each hold ended); the member (enrolment). `requests_of` reads them back into
requests, each at the moment it was recorded, in the order the ledger numbered them.

Entries that an operation derives are not requests: the signup and referral bonuses, a checkout order's
reward and points-payment lines, a refund's give-back, expiry and lapse lines, the closing balance. The
replay derives them again, under whichever programme it runs.

Not in the history: profile changes (no point depends on them). A hold released by the hold-release job
is replayed as that job's run at the moment it released it. A table written before status changes were
recorded is replayed with each member's latest status only (docs/whatif.md, Limits).
"""

from __future__ import annotations

import gzip
import itertools
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from loyalty.jobs import registry

# Within one instant: enrolments first (a referral names a member enrolled in the same step), then the
# members' own writes in their ledger's order, then the jobs.
ENROL, WRITE, SETTLE, JOB = 0, 1, 2, 3


@dataclass(frozen=True, order=True)
class Request:
    at: datetime  # when it was recorded: the replay's clock for it
    rank: int
    member_id: str
    seq: float  # where in the member's ledger: an entry's own sequence; n + 0.5 for a write that left no
    # entry and came after entry n (a subscription, an override, a status change, a capture)
    what: str  # enrol, earn, checkout, refund, activity, partner_redeem, partner_cancel, pay_with_points, ...
    method: str = field(compare=False)
    path: str = field(compare=False)
    body: dict[str, Any] | None = field(compare=False, default=None)
    partner_id: str | None = field(compare=False, default=None)  # a partner webhook: signed as that partner
    job: str | None = field(compare=False, default=None)  # a job run (hold-release) instead of a request
    version: int = field(compare=False, default=0)  # the member's version it was made at, when recorded


@dataclass(frozen=True, order=True)
class JobRun:
    at: datetime
    job: str
    as_of: str


@dataclass
class History:
    requests: list[Request]
    jobs: list[JobRun]  # the monthly jobs as they ran (empty: none recorded; the replay runs them monthly)
    members: dict[str, dict[str, Any]]  # member id -> the member item as it is now (the live figures)
    ledger: dict[str, list[dict[str, Any]]]  # member id -> its entries, in sequence
    skipped: dict[str, int]  # entries by kind that the replay derives, or that the history cannot replay
    accounted: set[str] = field(default_factory=set)  # members an account's membership items name
    # the whole history's first and last moment, for a shard of it (loyalty_local.whatif.shards): its job
    # runs, months and monthly cuts are then those of the whole
    span: tuple[datetime, datetime] | None = None

    @property
    def first(self) -> datetime | None:
        if self.span is not None:
            return self.span[0]
        return min((r.at for r in self.requests), default=None)

    @property
    def last(self) -> datetime | None:
        if self.span is not None:
            return self.span[1]
        times = [r.at for r in self.requests] + [j.at for j in self.jobs]
        return max(times, default=None)


def when(value: Any) -> datetime:
    parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _lines(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {"sku": i["sku"], "category": i["category"], "amount": str(i["amount"]), "quantity": int(i["quantity"])}
        for i in items
    ]


DERIVED = ("signup", "referral", "checkout_reward", "checkout_points", "refund_restore", "expire", "lapse", "close")


def requests_of(items: Iterable[dict[str, Any]]) -> History:
    """The history held by a table's items (deserialised)."""
    members: dict[str, dict[str, Any]] = {}
    entries: list[dict[str, Any]] = []
    subscriptions: list[dict[str, Any]] = []
    overrides: list[dict[str, Any]] = []
    holds: dict[str, dict[str, Any]] = {}
    runs: list[dict[str, Any]] = []
    statuses: list[dict[str, Any]] = []
    accounted: set[str] = set()
    for item in items:
        pk = str(item.get("PK", ""))
        kind = item.get("kind")
        if pk.startswith("MEMBER#") and kind == "member":
            members[str(item["member_id"])] = item
        elif pk.startswith("ENTRY#") and kind == "entry":
            entries.append(item)
        elif pk.startswith("SUBSCRIPTION#") and kind == "subscription":
            subscriptions.append(item)
        elif pk.startswith("TIERAUDIT#") and kind == "tier_audit":
            overrides.append(item)
        elif pk.startswith("STATUSAUDIT#") and kind == "status_audit":
            statuses.append(item)
        elif pk.startswith("HOLD#") and kind == "hold":
            holds[str(item["redemption_id"])] = item
        elif pk == "JOBRUNS" and kind == "job_status":
            runs.append(item)
        elif kind == "account_member":
            accounted.add(str(item["member_id"]))

    ledger: dict[str, list[dict[str, Any]]] = {}
    for entry in sorted(entries, key=lambda e: (str(e["member_id"]), int(e["seq"]))):
        ledger.setdefault(str(entry["member_id"]), []).append(entry)

    def position(member_id: str, record: dict[str, Any], at: datetime) -> float:
        """After the entries the record says it followed; a record without (written before it was kept):
        after the member's entries recorded by then."""
        if record.get("entries") is not None:
            return int(record["entries"]) + 0.5
        return sum(1 for e in ledger.get(member_id, []) if when(e["recorded_at"]) <= at) + 0.5

    out: list[Request] = []
    skipped: dict[str, int] = {}
    audited = {str(a["member_id"]) for a in statuses}
    for member in members.values():
        out.extend(_lifecycle(member, audited=str(member["member_id"]) in audited))
    for audit in statuses:
        out.extend(_status_change(audit, members.get(str(audit["member_id"])), position))
    for entry in entries:
        made = _from_entry(entry, holds, position)
        if made is None:
            prefix = str(entry["key"]).split("#", 1)[0]
            skipped[prefix] = skipped.get(prefix, 0) + 1
        else:
            out.extend(made)
    cancelled = {str(e["key"]) for e in entries if str(e["key"]).startswith("pwp_cancel#")}
    for redemption_id, hold in holds.items():
        # a closed member's hold that the job released: no entry (its points were forfeited), the hold alone
        if (
            hold.get("status") == "released"
            and hold.get("settled_at")
            and f"pwp_cancel#{redemption_id}" not in cancelled
        ):
            member_id, at = str(hold["member_id"]), when(hold["settled_at"])
            where = position(member_id, {}, at)
            out.append(
                Request(at, WRITE, member_id, where, "release", "POST", "", None, job=registry.HOLD_RELEASE.name)
            )
    for sub in subscriptions:
        member_id, at = str(sub["member_id"]), when(sub["recorded_at"])
        body = {
            "subscription_id": str(sub["subscription_id"]),
            "tier_id": str(sub["tier_id"]),
            "months": int(sub["months"]),
        }
        path = f"/v1/members/{member_id}/subscriptions"
        where, version = position(member_id, sub, at), int(sub.get("version") or 0)
        out.append(Request(at, WRITE, member_id, where, "subscribe", "POST", path, body, version=version))
    for audit in overrides:
        member_id, at = str(audit["member_id"]), when(audit["recorded_at"])
        body = {"tier_id": str(audit["to"]), "reason": str(audit["reason"])}
        if audit.get("until"):
            body["until"] = str(audit["until"])
        path = f"/v1/members/{member_id}/tier"
        where, version = position(member_id, audit, at), int(audit.get("version") or 0)
        out.append(Request(at, WRITE, member_id, where, "override", "POST", path, body, version=version))
    jobs = sorted(
        {
            (str(r["job"]), str(r["as_of"])): JobRun(when(r["started_at"]), str(r["job"]), str(r["as_of"]))
            for r in sorted(runs, key=lambda r: str(r["started_at"]), reverse=True)
        }.values()
    )
    return History(_in_order(out, entries, members), jobs, members, ledger, skipped, accounted)


def _in_order(
    requests: list[Request], entries: list[dict[str, Any]], members: dict[str, dict[str, Any]]
) -> list[Request]:
    """The requests in time order, with three constraints a merge by time alone would break when many
    members write in one instant (a simulated step, a busy second), where it would fall back on their ids:

    - each member's requests in its ledger's order (`seq`);
    - a referrer enrolled before the member it referred;
    - a referred member's first earning order between the referrer's ledger lines around its bonus: the
      bonus came with that order, so what the referrer did next could spend it.
    """
    import heapq
    import sys

    ordered = sorted(requests)
    index = {id(r): i for i, r in enumerate(ordered)}
    after: dict[int, list[int]] = {}
    waiting = [0] * len(ordered)

    def edge(first: int, then: int) -> None:
        after.setdefault(first, []).append(then)
        waiting[then] += 1

    chains: dict[str, list[int]] = {}
    for i, request in enumerate(ordered):
        chains.setdefault(request.member_id, []).append(i)
    for member_id, chain in chains.items():
        chain.sort(key=lambda i: (ordered[i].seq, ordered[i].version, ordered[i].rank, i))
        for first, then in itertools.pairwise(chain):
            edge(first, then)
        referrer = members.get(member_id, {}).get("referred_by")
        if referrer and chains.get(str(referrer)):
            edge(chains[str(referrer)][0], chain[0])  # chains start with the enrolment
    earning = {(r.member_id, r.seq): index[id(r)] for r in ordered if r.what in ("earn", "checkout")}
    earned: dict[str, list[dict[str, Any]]] = {}
    for entry in entries:
        if entry["type"] == "earn" and int(entry["points"]) > 0:
            earned.setdefault(str(entry["member_id"]), []).append(entry)
    for entry in entries:
        if not str(entry["key"]).startswith("referral#"):
            continue
        referred, referrer, seq = str(entry["key"]).split("#", 1)[1], str(entry["member_id"]), int(entry["seq"])
        orders = [
            int(line["seq"])
            for line in earned.get(referred, [])
            if line["recorded_at"] == entry["recorded_at"] and (referred, int(line["seq"])) in earning
        ]
        if not orders:
            continue
        cause = earning[(referred, min(orders))]
        for i in chains.get(referrer, []):
            if ordered[i].seq < seq and ordered[i].what != "enrol":
                edge(i, cause)
            elif ordered[i].seq > seq:
                edge(cause, i)
    ready = [i for i in range(len(ordered)) if not waiting[i]]
    heapq.heapify(ready)
    out: list[Request] = []
    while ready:
        i = heapq.heappop(ready)
        out.append(ordered[i])
        for then in after.get(i, []):
            waiting[then] -= 1
            if not waiting[then]:
                heapq.heappush(ready, then)
    if len(out) != len(ordered):
        stuck = sorted({ordered[i].member_id for i in range(len(ordered)) if waiting[i]})
        print(f"warning: the history's order contradicts itself for {stuck[:5]}: time order kept", file=sys.stderr)
        return sorted(requests, key=lambda r: (r.at, r.rank, r.member_id, r.seq))
    return out


def _lifecycle(member: dict[str, Any], *, audited: bool) -> list[Request]:
    """Enrolment; and, for a member whose status changes were not recorded (a table written before they
    were), how the member stands now: closed, erased or suspended."""
    member_id = str(member["member_id"])
    body: dict[str, Any] = {"member_id": member_id, "channel": str(member["channel"])}
    if member.get("referred_by"):
        body["referred_by"] = str(member["referred_by"])
    if member.get("birth_date"):
        body["birth_date"] = str(member["birth_date"])
    out = [Request(when(member["enrolled_at"]), ENROL, member_id, 0, "enrol", "POST", "/v1/members", body)]
    if audited:
        return out
    status, changed = str(member.get("status") or "active"), member.get("status_changed_at")
    erased = member.get("erased_at")
    path = f"/v1/members/{member_id}/status"
    last = int(member.get("entries") or 0) + 1  # after every entry
    if status == "closed" and changed and not (erased and when(erased) <= when(changed)):
        body = {"status": "closed", "reason": "replayed"}
        out.append(Request(when(changed), SETTLE, member_id, last, "close", "POST", path, body))
    if erased:
        out.append(Request(when(erased), SETTLE, member_id, last, "erase", "DELETE", f"/v1/members/{member_id}"))
    if status == "suspended" and changed:
        body = {"status": "suspended", "reason": "replayed"}
        out.append(Request(when(changed), SETTLE, member_id, last, "suspend", "POST", path, body))
    return out


STATUS_REQUESTS = {"active": "reactivate", "suspended": "suspend", "closed": "close"}


def _status_change(audit: dict[str, Any], member: dict[str, Any] | None, position: Any) -> list[Request]:
    """A recorded status change, at its place in the member's ledger."""
    member_id, status, at = str(audit["member_id"]), str(audit["status"]), when(audit["recorded_at"])
    if member is None:
        return []
    where, version = position(member_id, audit, at), int(audit.get("version") or 0)
    if status == "erased":
        path = f"/v1/members/{member_id}"
        return [Request(at, WRITE, member_id, where, "erase", "DELETE", path, version=version)]
    body = {"status": status, "reason": "replayed"}
    path = f"/v1/members/{member_id}/status"
    return [Request(at, WRITE, member_id, where, STATUS_REQUESTS[status], "POST", path, body, version=version)]


def _from_entry(entry: dict[str, Any], holds: dict[str, dict[str, Any]], position: Any) -> list[Request] | None:
    """The request(s) behind one ledger entry; None for an entry an operation derives."""
    key = str(entry["key"])
    prefix = key.split("#", 1)[0]
    if prefix in DERIVED:
        return None
    member_id = str(entry["member_id"])
    at, seq = when(entry["recorded_at"]), int(entry["seq"])
    details = entry.get("details") or {}
    occurred = str(entry["occurred_at"])
    reference = str(entry["reference"])

    def one(
        what: str, method: str, path: str, body: dict[str, Any] | None, partner: str | None = None
    ) -> list[Request]:
        return [Request(at, WRITE, member_id, seq, what, method, path, body, partner)]

    if prefix == "earn":
        checkout = details.get("checkout")
        body: dict[str, Any]
        if checkout is not None:
            body = {
                "member_id": member_id,
                "order_id": reference,
                "currency": str(details["currency"]),
                "occurred_at": occurred,
                "items": _lines(details.get("items") or []),
            }
            if checkout.get("rewards"):
                body["rewards"] = [str(r) for r in checkout["rewards"]]
            paid = int((checkout.get("points_payment") or {}).get("points") or 0)
            if paid:
                body["points"] = paid
            return one("checkout", "POST", "/v1/checkout/orders", body)
        body = {
            "member_id": member_id,
            "order_id": reference,
            "amount": str(details["amount"]),
            "currency": str(details["currency"]),
            "occurred_at": occurred,
        }
        if details.get("channel"):
            body["channel"] = str(details["channel"])
        if details.get("items"):
            body["items"] = _lines(details["items"])
        return one("earn", "POST", "/v1/earn", body)
    if prefix == "refund":
        body = {
            "member_id": member_id,
            "order_id": str(details["order_id"]),
            "refund_id": reference,
            "amount": str(details["amount"]),
        }
        return one("refund", "POST", "/v1/refunds", body)
    if prefix == "activity":
        body = {
            "member_id": member_id,
            "activity_id": reference,
            "type": str(details["activity"]),
            "occurred_at": occurred,
        }
        return one("activity", "POST", "/v1/activities", body)
    if prefix == "adjust":
        body = {
            "adjustment_id": reference,
            "points": int(entry["points"]),
            "reason": str(details.get("reason") or "adjustment"),
        }
        return one("adjust", "POST", f"/v1/members/{member_id}/adjustments", body)
    if prefix == "redeem":
        partner = str(details["partner_id"])
        body = {
            "redemption_id": reference,
            "member_id": member_id,
            "reward_id": str(details["reward_id"]),
            "occurred_at": occurred,
        }
        return one("partner_redeem", "POST", f"/v1/partners/{partner}/redemptions", body, partner)
    if prefix == "redeem_cancel":
        partner = key.split("#")[1]
        return one("partner_cancel", "POST", f"/v1/partners/{partner}/redemptions/{reference}/cancel", {}, partner)
    if prefix == "pwp":
        status = str(details.get("status") or "completed")
        body = {
            "redemption_id": reference,
            "member_id": member_id,
            "points": -int(entry["points"]),
            "capture": status == "completed",
        }
        out = one("pay_with_points", "POST", "/v1/redemptions", body)
        hold = holds.get(reference)
        settled = hold.get("settled_at") if hold is not None and status == "held" else None
        if hold is not None and settled and hold.get("status") == "captured":
            at = when(settled)
            path = f"/v1/redemptions/{reference}/capture"
            out.append(Request(at, WRITE, member_id, position(member_id, {}, at), "capture", "POST", path, {}))
        return out
    if prefix == "pwp_cancel":
        if details.get("status") == "released":  # the hold-release job let it go at this moment
            return [Request(at, WRITE, member_id, seq, "release", "POST", "", None, job=registry.HOLD_RELEASE.name)]
        return one("void", "POST", f"/v1/redemptions/{reference}/void", {})
    return None


# -- where items come from --------------------------------------------------------------------------
def write_records(records: Iterable[dict[str, Any]], path: Path) -> int:
    """Export records (`{"Program": ...}`, `{"Item": {...}}`) as an export file, as they stream (gzipped
    when the name ends in .gz). Returns the count of items."""
    path.parent.mkdir(parents=True, exist_ok=True)
    opener = gzip.open if path.suffix == ".gz" else open
    count = 0
    with opener(path, "wt", encoding="utf-8") as out:
        for record in records:
            if "Program" in record:
                out.write(json.dumps({"Program": record["Program"]}) + "\n")
                continue
            out.write(json.dumps({"Item": record.get("Item", record)}, separators=(",", ":")) + "\n")
            count += 1
    return count
