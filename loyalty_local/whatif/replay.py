"""One replay: a history's requests, in order, through the engine under one programme.

Runs in a process of its own (the engine is one per process): a shard of the history under one
programme (`loyalty_local.whatif.shards`). The clock is set to each request's recorded time; the
monthly jobs run as the history ran them (or on each 1st at 00:05 when it recorded none), and the
members are read after the jobs of each 1st: that month's snapshot.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from loyalty.jobs import registry
from loyalty.kernel.months import add_months, month_of

from loyalty_local.whatif.history import History, JobRun, Request, when

MAX_REFUSALS = 1000
REPLAY_SECRET = "replay-partner-secret"  # noqa: S105 - the replay's own partners, in its own emulator


class Tick(Protocol):
    def __call__(self, n: int) -> None: ...


@dataclass
class Outcome:
    """What a replay produced: JSON-able, sent back to the parent process."""

    program_id: str
    currency: str
    point_value: str
    months: list[dict[str, Any]] = field(default_factory=list)
    members: dict[str, dict[str, Any]] = field(default_factory=dict)  # member id -> its figures at the end
    ledger: dict[str, list[list[Any]]] = field(default_factory=dict)  # member id -> sorted [key, type, points]
    refused: dict[str, dict[str, int]] = field(default_factory=dict)  # what -> error code -> count
    requests: int = 0
    refusals: list[list[str]] = field(default_factory=list)  # [member id, what, code, at], the first 1,000
    document_hash: str = ""  # which programme document this replay ran (sha256)
    jobs: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0


def _first_of_next(month: str) -> datetime:
    return datetime.fromisoformat(f"{add_months(month, 1)}-01T00:00:00+00:00")


def schedule(history: History, daily: bool) -> list[JobRun]:
    """The job runs to replay: the monthly runs the history recorded, or one of each on every 1st at 00:05
    between its first and last request; the daily pending activation when a programme holds points back."""
    first, last = history.first, history.last
    if first is None or last is None:
        return []
    runs = list(history.jobs)
    boundary = _first_of_next(month_of(first))
    if not runs:
        while boundary <= last:
            runs += [
                JobRun(boundary + timedelta(minutes=5), job, boundary.date().isoformat())
                for job in registry.MONTHLY_NAMES
            ]
            boundary = _first_of_next(month_of(boundary))
    if daily:
        day = datetime(first.year, first.month, first.day, tzinfo=UTC) + timedelta(days=1)
        while day <= last:
            runs.append(JobRun(day + timedelta(minutes=5), registry.PENDING_ACTIVATION.name, day.date().isoformat()))
            day += timedelta(days=1)
    return sorted(runs, key=lambda r: (r.at, registry.monthly_order(r.job)))


def run(document: str, history: History, *, daily: bool, tick: Tick | None = None) -> Outcome:
    from loyalty.program.rules import current_program

    from loyalty_local.engine import Engine

    started = time.monotonic()
    engine = Engine(document, outbox=False)
    program = current_program()
    for partner in program.partners:
        engine.add_partner_secret(partner.secret_id, REPLAY_SECRET)
    out = Outcome(program.program_id, program.currency, str(program.point_value))
    out.document_hash = hashlib.sha256(document.encode()).hexdigest()
    refused: dict[str, Counter[str]] = {}
    jobs = deque(schedule(history, daily))
    monthly_left = Counter(j.as_of for j in jobs if j.job in registry.MONTHLY_NAMES)
    last = history.last or history.first
    months_open = month_of(history.first) if history.first else None
    cuts: list[tuple[datetime, bool]] = []  # each snapshot's moment, and whether entries at it are in

    def snapshots_due(moment: datetime | None, inclusive: bool) -> None:
        """Every month whose end has come by `moment` (all of them when None) gets its snapshot, except a
        month whose 1st still has monthly jobs to run: its snapshot comes after them."""
        nonlocal months_open
        while months_open is not None and last is not None:
            boundary = _first_of_next(months_open)
            if moment is not None and (moment < boundary or monthly_left[boundary.date().isoformat()] > 0):
                return
            out.months.append(_snapshot(engine, months_open))
            cuts.append((moment or datetime.max.replace(tzinfo=UTC), inclusive))
            months_open = month_of(boundary) if boundary <= last else None

    def run_job(job: JobRun) -> None:
        snapshots_due(job.at, inclusive=False)
        engine.set_clock(job.at)
        monthly = job.job in registry.MONTHLY_NAMES  # the daily activation runs for now, as its schedule does
        out.jobs.append({"job": job.job, **engine.run_job(job.job, job.as_of if monthly else None)})
        if monthly:
            monthly_left[job.as_of] -= 1
            snapshots_due(job.at, inclusive=True)

    # the requests keep the history's order (each member's ledger order, referrals); the jobs go in by time
    for request in history.requests:
        while jobs and jobs[0].at <= request.at:
            run_job(jobs.popleft())
        snapshots_due(request.at, inclusive=False)
        engine.set_clock(request.at)
        if request.job:  # the hold-release job, at the moment it released a hold
            out.jobs.append({"job": request.job, **engine.run_job(request.job)})
            continue
        status, raw = _send(engine, request)
        out.requests += 1
        if status >= 400:
            body = json.loads(raw) if raw else None  # an answer's body is read only when it refused
            code = str((body or {}).get("error", {}).get("code") if isinstance(body, dict) else status)
            refused.setdefault(request.what, Counter())[code] += 1
            if len(out.refusals) < MAX_REFUSALS:
                out.refusals.append([request.member_id, request.what, code, request.at.isoformat()])
        if tick is not None and out.requests % 50 == 0:
            tick(50)
    while jobs:
        run_job(jobs.popleft())
    if tick is not None:
        tick(out.requests % 50)
    snapshots_due(None, inclusive=True)
    engine.set_clock(None)
    out.members = {m["member_id"]: _figures(m) for m in engine.items("MEMBER#")}
    entries = list(engine.items("ENTRY#"))
    flows = _flows(entries, cuts)
    for i, month in enumerate(out.months):
        month.update({name: flows[i].get(name, 0) for name in FLOWS})
    ledger: dict[str, list[list[Any]]] = {}
    for entry in entries:
        ledger.setdefault(str(entry["member_id"]), []).append(
            [str(entry["key"]), str(entry["type"]), int(entry["points"])]
        )
    out.ledger = {k: sorted(v) for k, v in ledger.items()}
    out.refused = {what: dict(codes) for what, codes in refused.items()}
    out.seconds = round(time.monotonic() - started, 1)
    return out


def _send(engine: Any, request: Request) -> tuple[int, bytes]:
    """The request as its client sent it (an administrator's key, or a partner's signature): the answer's
    status and body, undecoded."""
    if request.partner_id is None:
        answer = engine.send(request.method, request.path, request.body)
        return answer.status, answer.body
    raw = json.dumps(request.body or {}).encode()
    t = str(int(request.at.timestamp()))
    digest = hmac.new(REPLAY_SECRET.encode(), t.encode() + b"." + raw, hashlib.sha256).hexdigest()
    answer = engine.request(request.method, request.path, raw, {"Loyalty-Signature": f"t={t},v1={digest}"})
    return answer.status, answer.body


TEXT = ("status", "tier_id", "tier_source", "paid_tier", "tier_period", "expiry_period")
FIGURES = (
    *TEXT,
    "available",
    "pending",
    "held",
    "lifetime_earned",
    "lifetime_redeemed",
    "lifetime_expired",
    "lifetime_adjusted",
)


def _figures(member: dict[str, Any]) -> dict[str, Any]:
    """Every figure of a member the ledger and the programme decide (not the profile)."""
    out: dict[str, Any] = {}
    for name in FIGURES:
        value = member.get(name)
        out[name] = int(value) if name not in TEXT and value is not None else value
    for name in ("paid_until", "manual_until"):  # to the second: a replay's request times are the records'
        out[name] = str(member[name])[:19] if member.get(name) else None
    for name in ("buckets", "qualifying", "counters"):
        out[name] = {str(k): int(v) for k, v in sorted((member.get(name) or {}).items()) if int(v)}
    lots = member.get("pending_lots") or {}
    out["pending_lots"] = {str(k): [int(v["points"]), str(v["available_on"])] for k, v in sorted(lots.items())}
    return out


def _snapshot(engine: Any, month: str) -> dict[str, Any]:
    """The members after the jobs of the 1st that follows `month` (its flows are added from the ledger)."""
    live = [m for m in map(_figures, engine.items("MEMBER#")) if m["status"] != "closed"]
    return {
        "month": month,
        "members": len(live),
        "tiers": dict(sorted(Counter(m["tier_id"] for m in live).items())),
        "outstanding": sum(m["available"] + m["pending"] for m in live),
    }


FLOWS = ("issued", "redeemed", "expired", "reversed", "adjusted")


def _flows(entries: list[dict[str, Any]], cuts: list[tuple[datetime, bool]]) -> list[Counter[str]]:
    """Each snapshot's points issued (earn, bonus), redeemed (less cancels), expired, reversed by refunds
    and adjusted (net; a closing's forfeit too): the entries recorded after the previous snapshot and by
    this one, so that every month's figures add up to its outstanding points."""
    import bisect

    moments = [moment for moment, _ in cuts]
    by_cut = [Counter[str]() for _ in cuts]
    for entry in entries:
        at = when(entry["recorded_at"])
        i = bisect.bisect_left(moments, at)
        while i < len(cuts) and not (at < cuts[i][0] or (at == cuts[i][0] and cuts[i][1])):
            i += 1
        if i == len(cuts):
            continue
        flows = by_cut[i]
        points, kind = int(entry["points"]), str(entry["type"])
        if kind in ("earn", "bonus"):
            flows["issued"] += points
        elif kind == "adjust":
            flows["adjusted"] += points
        elif kind == "reversal":
            flows["reversed"] -= points
        elif kind in ("redeem", "redeem_cancel"):  # a cancel's points are positive: they come off
            flows["redeemed"] -= points
        elif kind == "expire":
            flows["expired"] -= points
    return by_cut
