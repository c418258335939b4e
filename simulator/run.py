"""The year, over HTTP: each step's member tasks on a thread pool, the jobs on the 1st of each month,
and a snapshot of every member (GET /v1/members/{id}) after the jobs, for the monthly figures."""

from __future__ import annotations

import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from loyalty.jobs import registry
from loyalty.kernel.months import add_months
from loyalty.program.rules import Program, Reward

from loyalty_local.progress import Progress
from simulator.client import ADMIN, Answer, Client
from simulator.plan import (
    STEP_DAYS,
    Activity,
    Enroll,
    Order,
    PartnerRedeem,
    PayWithPoints,
    Plan,
    SimMember,
    Subscribe,
    Task,
)

# Refusals a member meets in real life: counted, not errors.
EXPECTED = {
    "activity": {"activity_limit_reached"},
    "partner": {"insufficient_points", "reward_unavailable", "reward_not_eligible"},
    "pwp": {"insufficient_points"},
}


@dataclass
class MemberState:
    balance: int = 0
    tier: str = ""
    earning_orders: int = 0  # orders that earned points (the referral pays on the first)


@dataclass
class Snapshot:
    """The members as GET /v1/members shows them after the jobs of the 1st of the next month."""

    month: str
    members: int
    tiers: dict[str, int]
    earned: int
    redeemed: int
    expired: int
    available: int
    pending: int

    @property
    def outstanding(self) -> int:
        return self.available + self.pending


@dataclass
class Result:
    program: Program
    plan: Plan
    snapshots: list[Snapshot] = field(default_factory=list)
    jobs: list[dict[str, Any]] = field(default_factory=list)
    counts: Counter[str] = field(default_factory=Counter)  # what happened, by kind
    refused: Counter[str] = field(default_factory=Counter)  # expected refusals, by error code
    errors: list[str] = field(default_factory=list)
    earned_seen: int = 0  # points in the answers: signup, earn, refunds, activities, referrals paid
    redeemed_seen: int = 0  # partner and pay-with-points redemptions, less cancels and voids
    final: dict[str, dict[str, Any]] = field(default_factory=dict)  # member id -> last GET body
    retried: list[str] = field(default_factory=list)  # requests the client had to send again
    ledger_mismatches: list[str] = field(default_factory=list)  # members whose ledger disagrees with them


class Simulation:
    def __init__(self, client: Client, program: Program, plan: Plan, secrets: dict[str, str], threads: int = 8):
        self.client = client
        self.program = program
        self.plan = plan
        self.secrets = secrets
        self.threads = threads
        self.state = {m.member_id: MemberState(tier=program.base_tier.id) for m in plan.members}
        self.result = Result(program, plan)
        self._lock = threading.Lock()
        members_seen = sum(len([p for p in plan.members if p.enrol_month <= m]) for m in range(len(plan.months)))
        total = plan.actions + members_seen + len(plan.members)  # actions, monthly reads, ledger checks
        self.progress = Progress(total, f"simulate {program.program_id}")

    # -- the year ----------------------------------------------------------------------------
    def run(self) -> Result:
        with ThreadPoolExecutor(max_workers=self.threads) as pool:
            for m, month in enumerate(self.plan.months):
                for s, day in enumerate(STEP_DAYS):
                    self.progress.set_stage(f"{month}-{day:02d}")
                    self.client.set_clock(f"{month}-{day:02d}T12:00:00Z")
                    list(pool.map(self._task, self.plan.steps[m][s]))
                first = f"{add_months(month, 1)}-01"
                self.progress.set_stage(f"jobs {first}")
                self.client.set_clock(f"{first}T00:00:00Z")
                for job in registry.MONTHLY_NAMES:
                    self.result.jobs.append(self.client.run_job(job, first))
                enrolled = [p for p in self.plan.members if p.enrol_month <= m]
                self.result.snapshots.append(self._snapshot(pool, month, enrolled))
            self.progress.set_stage("ledgers")
            sums = self.client.ledger_sums()
            if sums is not None:  # in process: every ledger summed in one pass
                self.result.ledger_mismatches = [
                    gap for person in self.plan.members if (gap := self._compare(person, sums))
                ]
                self.progress.advance(len(self.plan.members))
            else:
                self.result.ledger_mismatches = [m for m in pool.map(self._ledger_check, self.plan.members) if m]
        self.progress.close()
        return self.result

    def _ledger_check(self, person: SimMember) -> str | None:
        """The member's ledger (every page) must add up to the balance the member view shows."""
        total, cursor = 0, ""
        while True:
            answer = self.client.get(f"/v1/members/{person.member_id}/ledger?limit=100{cursor}")
            if answer.status != 200:
                self._error(f"ledger of {person.member_id}: {answer.status} {answer.body}")
                return None
            total += sum(int(e["points"]) for e in answer.body["entries"])
            if not answer.body["next_cursor"]:
                break
            cursor = f"&cursor={answer.body['next_cursor']}"
        self.progress.advance(1)
        return self._compare(person, {person.member_id: total})

    def _compare(self, person: SimMember, sums: dict[str, int]) -> str | None:
        """The member's ledger summed against the balance the member view shows (available and pending)."""
        view = self.result.final.get(person.member_id)
        if view is None:
            return None
        total = sums.get(person.member_id, 0)
        shown = view["points"]["available"] + view["points"]["pending"]
        return None if total == shown else f"{person.member_id}: ledger sums to {total}, the member shows {shown}"

    def _task(self, task: Task) -> None:
        for action in task.actions:
            try:
                self._act(task.member, action)
            except Exception as exc:  # one member's failure is reported, the year goes on
                self._error(f"{task.member.member_id} {type(action).__name__}: {exc}")
            self.progress.advance(1)

    def _snapshot(self, pool: ThreadPoolExecutor, month: str, members: list[SimMember]) -> Snapshot:
        def read(person: SimMember) -> dict[str, Any] | None:
            answer = self.client.get(f"/v1/members/{person.member_id}")
            self.progress.advance(1)
            if answer.status != 200:
                self._error(f"GET {person.member_id}: {answer.status} {answer.body}")
                return None
            body: dict[str, Any] = answer.body
            state = self.state[person.member_id]
            state.balance, state.tier = body["points"]["available"], body["tier"]["id"]
            return body

        views = self.client.member_views([m.member_id for m in members])
        if views is not None:  # in process: the members read in one pass, as GET would show their figures
            self.progress.advance(len(members))
            for person in members:
                state = self.state[person.member_id]
                state.balance, state.tier = (
                    views[person.member_id]["points"]["available"],
                    views[person.member_id]["tier"]["id"],
                )
            bodies = [views[m.member_id] for m in members]
        else:
            bodies = [b for b in pool.map(read, members) if b is not None]
        self.result.final = {b["member_id"]: b for b in bodies}
        points = [b["points"] for b in bodies]
        return Snapshot(
            month=month,
            members=len(bodies),
            tiers=dict(Counter(b["tier"]["id"] for b in bodies)),
            earned=sum(p["lifetime_earned"] for p in points),
            redeemed=sum(p["lifetime_redeemed"] for p in points),
            expired=sum(p["lifetime_expired"] for p in points),
            available=sum(p["available"] for p in points),
            pending=sum(p["pending"] for p in points),
        )

    # -- one action --------------------------------------------------------------------------
    def _act(self, person: SimMember, action: object) -> None:
        state = self.state[person.member_id]
        pid = person.member_id
        if isinstance(action, Enroll):
            body: dict[str, Any] = {"member_id": pid, "channel": action.channel, "birth_date": str(action.birth_date)}
            if action.referred_by:
                body["referred_by"] = action.referred_by
            answer = self._expect(self.client.post("/v1/members", body), 201, "enrol")
            if answer:
                state.balance, state.tier = answer.body["points"]["available"], answer.body["tier"]["id"]
                self._count("enrolments", earned=answer.body["points"]["lifetime_earned"])
        elif isinstance(action, Order):
            self._order(person, state, action)
        elif isinstance(action, Activity):
            body = {"member_id": pid, "activity_id": action.activity_id, "type": action.type}
            answer = self._expect(self.client.post("/v1/activities", body), 201, "activity")
            if answer:
                state.balance = answer.body["balance"]
                self._count("activities", earned=answer.body["points"])
        elif isinstance(action, PartnerRedeem):
            self._partner(person, state, action)
        elif isinstance(action, PayWithPoints):
            self._pay(person, state, action)
        elif isinstance(action, Subscribe):
            body = {"subscription_id": action.subscription_id, "tier_id": action.tier_id, "months": action.months}
            answer = self._expect(self.client.post(f"/v1/members/{pid}/subscriptions", body, key=ADMIN), 201, "sub")
            if answer:
                state.tier = answer.body["tier"]["id"]
                self._count("subscriptions")

    def _order(self, person: SimMember, state: MemberState, order: Order) -> None:
        body: dict[str, Any] = {
            "member_id": person.member_id,
            "order_id": order.order_id,
            "amount": str(order.amount),
            "currency": self.program.currency,
        }
        if order.items:
            body["items"] = [
                {"sku": sku, "category": category, "amount": str(amount), "quantity": 1}
                for sku, category, amount in order.items
            ]
        answer = self._expect(self.client.post("/v1/earn", body), 201, "earn")
        if not answer:
            return
        state.balance, state.tier = answer.body["balance"], answer.body["tier"]["id"]
        self._count("orders", earned=answer.body["points"])
        if answer.body["points"] > 0:
            state.earning_orders += 1
            if state.earning_orders == 1 and person.referred_by and self.program.activities.referral:
                self._count("referrals", earned=self.program.activities.referral)  # paid to the referrer
        if order.refund is None:
            return
        refund_id, amount = order.refund
        refund = {
            "member_id": person.member_id,
            "order_id": order.order_id,
            "refund_id": refund_id,
            "amount": str(amount),
        }
        answer = self._expect(self.client.post("/v1/refunds", refund), 201, "refund")
        if answer:
            state.balance = answer.body["balance"]
            self._count("refunds", earned=answer.body["points"])

    def _partner(self, person: SimMember, state: MemberState, action: PartnerRedeem) -> None:
        options = sorted(
            (r for r in self.program.rewards if r.partner_id in self.secrets and _allowed(r, state)),
            key=lambda r: (r.points, r.id),
        )
        if not options:
            return
        reward = options[min(len(options) - 1, int(action.choice * len(options)))]
        partner = reward.partner_id
        if partner is None:  # pragma: no cover - in-store rewards are not in `options` (no secret)
            return
        body = {"redemption_id": action.redemption_id, "member_id": person.member_id, "reward_id": reward.id}
        path = f"/v1/partners/{partner}/redemptions"
        secret = self.secrets[partner]
        answer = self._expect(self.client.partner_post(partner, secret, path, body), 201, "partner")
        if not answer:
            return
        state.balance = answer.body["balance"]
        self._count("partner_redemptions", redeemed=answer.body["points"])
        if action.cancel:
            cancel = f"{path}/{action.redemption_id}/cancel"
            answer = self._expect(self.client.partner_post(partner, secret, cancel, {}), 200, "cancel")
            if answer:
                state.balance = answer.body["balance"]
                self._count("partner_cancels", redeemed=-answer.body["points"])

    def _pay(self, person: SimMember, state: MemberState, action: PayWithPoints) -> None:
        unit = self.program.pay_with_points.points
        if state.balance < unit:
            return
        points = unit * max(1, int(state.balance // unit * action.share))
        body = {
            "redemption_id": action.redemption_id,
            "member_id": person.member_id,
            "points": points,
            "capture": action.mode == "capture",
        }
        answer = self._expect(self.client.post("/v1/redemptions", body), 201, "pwp")
        if not answer:
            return
        state.balance = answer.body["balance"]
        self._count("pay_with_points", redeemed=points)
        if action.mode == "hold-capture":
            self._expect(self.client.post(f"/v1/redemptions/{action.redemption_id}/capture", {}), 200, "capture")
        elif action.mode == "hold-void":
            answer = self._expect(self.client.post(f"/v1/redemptions/{action.redemption_id}/void", {}), 200, "void")
            if answer:
                state.balance = answer.body["balance"]
                self._count("pay_with_points_voided", redeemed=-answer.body["points"])

    # -- bookkeeping -------------------------------------------------------------------------
    def _expect(self, answer: Answer, status: int, kind: str) -> Answer | None:
        if answer.status == status:
            return answer
        if status == 201 and answer.status == 200 and answer.replayed:
            # the write was made once and this is its answer again: a retry of ours after a lost answer,
            # or the stack's own retry of a write that had committed (the contract's replay)
            with self._lock:
                self.result.counts[f"replayed:{kind}"] += 1
            return answer
        if answer.code in EXPECTED.get(kind, set()):
            with self._lock:
                self.result.refused[f"{kind}:{answer.code}"] += 1
            return None
        self._error(f"{kind}: {answer.status} {answer.body}")
        return None

    def _count(self, what: str, *, earned: int = 0, redeemed: int = 0) -> None:
        with self._lock:
            self.result.counts[what] += 1
            self.result.earned_seen += earned
            self.result.redeemed_seen += redeemed

    def _error(self, message: str) -> None:
        with self._lock:
            self.result.errors.append(message)
        self.progress.advance(0, errors=1)


def _allowed(reward: Reward, state: MemberState) -> bool:
    tier_ok = reward.eligible_tiers is None or state.tier in reward.eligible_tiers
    return tier_ok and reward.points <= state.balance
