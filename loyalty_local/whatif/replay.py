"""One replay: a history's requests, in order, through the engine under one programme.

Runs in a process of its own (the engine is one per process), so the current and the candidate
programme replay side by side on two cores. The clock is set to each request's recorded time; the
monthly jobs run as the history ran them (or on each 1st at 00:05 when it recorded none), and the
members are read after the jobs of each 1st: that month's snapshot.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, Protocol

from loyalty_local.whatif.history import JOB, History, JobRun, Request

MONTHLY_JOBS = ("expiry", "tier-evaluation")
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
    document_hash: str = ""  # which programme document this replay ran (sha256)
    jobs: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0


def _month(at: datetime) -> str:
    return f"{at.year:04d}-{at.month:02d}"


def _first_of_next(month: str) -> datetime:
    year, mon = int(month[:4]), int(month[5:7])
    return datetime(year + mon // 12, mon % 12 + 1, 1, tzinfo=UTC)


def schedule(history: History, daily: bool) -> list[JobRun]:
    """The job runs to replay: the monthly runs the history recorded, or one of each on every 1st at 00:05
    between its first and last request; the daily pending activation when a programme holds points back."""
    first, last = history.first, history.last
    if first is None or last is None:
        return []
    runs = list(history.jobs)
    boundary = _first_of_next(_month(first))
    if not runs:
        while boundary <= last:
            runs += [JobRun(boundary + timedelta(minutes=5), job, boundary.date().isoformat()) for job in MONTHLY_JOBS]
            boundary = _first_of_next(_month(boundary))
    if daily:
        day = datetime(first.year, first.month, first.day, tzinfo=UTC) + timedelta(days=1)
        while day <= last:
            runs.append(JobRun(day + timedelta(minutes=5), "pending-activation", day.date().isoformat()))
            day += timedelta(days=1)
    return sorted(runs, key=lambda r: (r.at, MONTHLY_JOBS.index(r.job) if r.job in MONTHLY_JOBS else 9))


def run(document: str, history: History, *, daily: bool, tick: Tick | None = None) -> Outcome:
    from loyalty.program import current_program

    from loyalty_local.engine import Engine

    started = time.monotonic()
    engine = Engine(document, outbox=False)
    program = current_program()
    for partner in program.partners:
        engine.add_partner_secret(partner.secret_id, REPLAY_SECRET)
    out = Outcome(program.program_id, program.currency, str(program.point_value))
    out.document_hash = hashlib.sha256(document.encode()).hexdigest()
    refused: dict[str, Counter[str]] = {}
    runs = schedule(history, daily)
    timeline: list[tuple[datetime, int, Request | JobRun]] = [(r.at, r.rank, r) for r in history.requests]
    timeline += [(j.at, JOB, j) for j in runs]
    timeline.sort(key=lambda t: (t[0], t[1]))
    months_open = _month(history.first) if history.first else None
    monthly_left = Counter(j.as_of for j in runs if j.job in MONTHLY_JOBS)

    def snapshot_through(moment: datetime | None) -> None:
        """Every month that has ended before `moment` (all of them when None) gets its snapshot."""
        nonlocal months_open
        while months_open is not None and (moment is None or moment >= _first_of_next(months_open)):
            out.months.append(_snapshot(engine, months_open))
            if moment is None and months_open >= _month(history.last or history.first or datetime.now(UTC)):
                months_open = None
                return
            months_open = _month(_first_of_next(months_open))

    for at, _, item in timeline:
        boundary = _first_of_next(months_open) if months_open else None
        # a month's snapshot waits for its 1st's monthly jobs, when there are any to wait for
        if boundary is not None and at >= boundary and not monthly_left.get(boundary.date().isoformat()):
            snapshot_through(at)
        engine.set_clock(at)
        if isinstance(item, JobRun):
            monthly = item.job in MONTHLY_JOBS  # the daily activation runs for now, as its schedule does
            out.jobs.append({"job": item.job, **engine.run_job(item.job, item.as_of if monthly else None)})
            if item.job in MONTHLY_JOBS:
                monthly_left[item.as_of] -= 1
                if not monthly_left[item.as_of] and boundary is not None and item.as_of == boundary.date().isoformat():
                    snapshot_through(at)
        elif item.job:
            out.jobs.append(
                {"job": item.job, "as_of": at.date().isoformat(), **engine.run_job(item.job, at.date().isoformat())}
            )
        else:
            status, body = _send(engine, item)
            out.requests += 1
            if status >= 400:
                code = str((body or {}).get("error", {}).get("code") if isinstance(body, dict) else status)
                refused.setdefault(item.what, Counter())[code] += 1
            if tick is not None and out.requests % 50 == 0:
                tick(50)
    if tick is not None:
        tick(out.requests % 50)
    snapshot_through(None)
    engine.set_clock(None)
    out.members = {m["member_id"]: _figures(m) for m in engine.items("MEMBER#")}
    entries = list(engine.items("ENTRY#"))
    flows = _flows(entries)
    for month in out.months:
        month.update({name: flows.get(month["month"], Counter()).get(name, 0) for name in FLOWS})
    ledger: dict[str, list[list[Any]]] = {}
    for entry in entries:
        ledger.setdefault(str(entry["member_id"]), []).append(
            [str(entry["key"]), str(entry["type"]), int(entry["points"])]
        )
    out.ledger = {k: sorted(v) for k, v in ledger.items()}
    out.refused = {what: dict(codes) for what, codes in refused.items()}
    out.seconds = round(time.monotonic() - started, 1)
    return out


def _send(engine: Any, request: Request) -> tuple[int, Any]:
    if request.partner_id is None:
        return engine.call(request.method, request.path, request.body)
    raw = json.dumps(request.body or {}).encode()
    t = str(int(request.at.timestamp()))
    digest = hmac.new(REPLAY_SECRET.encode(), t.encode() + b"." + raw, hashlib.sha256).hexdigest()
    answer = engine.request(request.method, request.path, raw, {"Loyalty-Signature": f"t={t},v1={digest}"})
    return answer.status, json.loads(answer.body) if answer.body else None


FIGURES = (
    "status",
    "tier_id",
    "tier_source",
    "available",
    "pending",
    "held",
    "lifetime_earned",
    "lifetime_redeemed",
    "lifetime_expired",
)


def _figures(member: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in FIGURES:
        value = member.get(name)
        out[name] = int(value) if name not in ("status", "tier_id", "tier_source") and value is not None else value
    out["buckets"] = {str(k): int(v) for k, v in sorted((member.get("buckets") or {}).items()) if int(v)}
    out["qualifying"] = {str(k): int(v) for k, v in sorted((member.get("qualifying") or {}).items()) if int(v)}
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


def _flows(entries: list[dict[str, Any]]) -> dict[str, Counter[str]]:
    """Month (of recording) -> points issued (earn, bonus), redeemed (less cancels), expired, reversed by
    refunds, and adjusted (net), from the ledger."""
    by_month: dict[str, Counter[str]] = {}
    for entry in entries:
        flows = by_month.setdefault(str(entry["recorded_at"])[:7], Counter())
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
    return by_month


def child(document: str, history: History, daily: bool, queue: Any) -> None:
    """The entry point of a replay process: its outcome (or its error) goes back through `queue`.

    The functions' own output (Powertools prints a metric set when it holds 100 values, even with metrics
    disabled) is the stack's, not the report's: it goes nowhere."""
    import contextlib
    import os
    import warnings

    warnings.simplefilter("ignore")  # Powertools' warnings about empty metric sets, likewise
    try:
        with open(os.devnull, "w") as quiet, contextlib.redirect_stdout(quiet):
            outcome = run(document, history, daily=daily, tick=lambda n: queue.put(("tick", n)))
        queue.put(("done", outcome))
    except BaseException as exc:  # the parent reports it; a replay that fails must not hang the run
        import traceback

        queue.put(("error", f"{type(exc).__name__}: {exc}\n{traceback.format_exc()}"))


def as_of(history: History) -> date | None:
    last = history.last
    return last.date() if last else None
