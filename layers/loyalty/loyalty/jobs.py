"""The monthly jobs' shared machinery: a run fans out into chunk messages, workers walk them page by page.

- The orchestrator (`start`), invoked by EventBridge Scheduler with `{"job"}` (or by hand with `as_of`),
  makes a run id, records the run and sends one message per chunk (a Scan segment, an index shard) to
  the job's SQS work queue.
- A worker (`handle_batch`, SQS-triggered, partial batch responses) walks its chunk a page at a time.
  Each page is frozen in a job item before its members are touched (which members, and the cursor after
  them), so a retried or duplicated message processes exactly the same members, even when the index it
  walks has moved (expired members leave the expiry index). A page is counted once: its item is marked
  done under `attribute_not_exists(done)`. Member writes are idempotent on their own (a version condition
  and the period on the member, or a ledger key), so processing a page twice changes nothing twice.
- Close to the Lambda timeout the worker sends a continuation message with the cursor and returns:
  chunks of any size finish in bounded invocations.
- A member that fails is isolated: it gets a message of its own (retried by SQS, then dead-lettered
  after maxReceiveCount) and the page carries on. A page where most members fail is a systemic
  problem (throttling, an outage), not a poison member: the whole message fails and SQS retries it.
- `summary` sums the counts of the run's job items.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.metrics import MetricUnit

from loyalty.clock import utcnow
from loyalty.errors import ValidationFailed
from loyalty.months import month_of
from loyalty.observability import logger, metrics
from loyalty.program import Program, current_program
from loyalty.store import jobs as store

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

# Stop taking new pages when less than this is left of the invocation: a page (at most `page_size`
# members, two or three round trips each) takes a few seconds, the worker's timeout is 120 s.
STOP_WITH_MS_LEFT = 30_000


@dataclass(frozen=True)
class Run:
    job: str
    period: str  # YYYY-MM: the month of as_of
    as_of: date
    run_id: str

    @property
    def pk(self) -> str:
        return store.run_pk(self.job, self.period, self.run_id)

    def message(self, **extra: Any) -> dict[str, Any]:
        return {"job": self.job, "period": self.period, "as_of": self.as_of.isoformat(), "run_id": self.run_id, **extra}

    @classmethod
    def from_message(cls, body: dict[str, Any]) -> Run:
        return cls(str(body["job"]), str(body["period"]), date.fromisoformat(str(body["as_of"])), str(body["run_id"]))


@dataclass
class Page:
    members: list[tuple[str, dict[str, Any] | None]]  # member id, and the member item when the read gave it
    next_cursor: dict[str, Any] | None


Counts = dict[str, int]


@dataclass
class Job:
    """What differs between jobs; the walking, counting and retrying is shared."""

    name: str
    counters: tuple[str, ...]  # the summary's figures
    queue_url: Callable[[], str | None]
    chunks: Callable[[Program, Run], list[str]]
    fetch: Callable[[Run, str, dict[str, Any] | None, int], Page]
    process: Callable[[Program, Run, str, dict[str, Any] | None], Counts]
    page_size: int = 100


# -- orchestrator --------------------------------------------------------------------------------
def as_of_from(event: dict[str, Any]) -> date:
    """`as_of` from the event (default: today by loyalty.clock); never later than today."""
    today = utcnow().date()
    raw = event.get("as_of")
    if raw is None:
        return today
    try:
        as_of = date.fromisoformat(str(raw))
    except ValueError:
        raise ValidationFailed.field("as_of", "not a date YYYY-MM-DD") from None
    if len(str(raw)) != 10:
        raise ValidationFailed.field("as_of", "not a date YYYY-MM-DD")
    if as_of > today:
        raise ValidationFailed.field("as_of", f"{as_of.isoformat()} is later than today ({today.isoformat()})")
    return as_of


def handle_invocation(job: Job, event: dict[str, Any]) -> dict[str, Any]:
    """The orchestrator: start a run, or (`summary_of`) sum up the run another invocation started."""
    if event.get("job") not in (None, job.name):
        raise ValidationFailed.field("job", f"this function runs {job.name!r}, not {event.get('job')!r}")
    if "summary_of" in event:
        return summary(job, event["summary_of"])
    return start(job, as_of_from(event))


def start(job: Job, as_of: date) -> dict[str, Any]:
    run = Run(job.name, month_of(as_of), as_of, f"{utcnow():%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}")
    chunks = job.chunks(current_program(), run)
    store.put_run(
        run.pk,
        {"job": job.name, "period": run.period, "as_of": as_of.isoformat(), "run_id": run.run_id, "chunks": chunks},
    )
    if chunks:
        store.send_messages(_queue(job), [run.message(chunk=chunk, cursor=None) for chunk in chunks])
    logger.info("job run started", extra={"job": job.name, "run_id": run.run_id, "chunks": len(chunks)})
    return {
        "job": job.name,
        "as_of": as_of.isoformat(),
        "period": run.period,
        "run_id": run.run_id,
        "chunks": len(chunks),
    }


def summary(job: Job, started: Any) -> dict[str, Any]:
    if not isinstance(started, dict) or not {"period", "run_id", "as_of"} <= set(started):
        raise ValidationFailed.field("summary_of", "not a run this job started")
    pk = store.run_pk(job.name, str(started["period"]), str(started["run_id"]))
    totals = dict.fromkeys(job.counters, 0)
    open_pages = 0
    for item in store.run_items(pk):
        if item.get("SK") == "RUN":
            continue
        if not item.get("done"):
            open_pages += 1
            continue
        for name, value in (item.get("counts") or {}).items():
            if name in totals:
                totals[name] += int(value)
    if open_pages:  # still running, or a page failed and waits for its retry or in the dead-letter queue
        logger.warning("summary of an unfinished run", extra={"run": pk, "open_pages": open_pages})
    return {"job": job.name, "as_of": str(started["as_of"]), **totals}


def _queue(job: Job) -> str:
    url = job.queue_url()
    if not url:
        raise RuntimeError(f"the {job.name} work queue URL is not configured")
    return url


# -- worker --------------------------------------------------------------------------------------
def handle_batch(job: Job, event: dict[str, Any], context: Any) -> dict[str, Any]:
    """The SQS worker: each message on its own; a failed one is reported, the others are not held back."""
    # Imported here: Powertools' batch module builds its parser's pydantic models at import (~30 ms), and
    # every function that imports this module for the orchestrator or a tier change (members) needs no batch.
    from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response

    processor = BatchProcessor(event_type=EventType.SQS)
    metrics.add_dimension(name="job", value=job.name)

    def record_handler(record: SQSRecord) -> None:
        handle_message(job, json.loads(record.body), context)

    return dict(
        process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)
    )


def handle_message(job: Job, body: dict[str, Any], context: Any) -> None:
    run = Run.from_message(body)
    program = current_program()
    if "member_id" in body:  # a member isolated from its page: its own retries, then the dead-letter queue
        counts = job.process(program, run, str(body["member_id"]), None)
        if store.record_member(run.pk, str(body["member_id"]), counts):
            _emit(counts, pages=0)
        return
    chunk = str(body["chunk"])
    cursor: dict[str, Any] | None = body.get("cursor")
    while True:
        cursor = _page(job, program, run, chunk, cursor)
        if cursor is None:
            return
        if context is not None and context.get_remaining_time_in_millis() < STOP_WITH_MS_LEFT:
            store.send_messages(_queue(job), [run.message(chunk=chunk, cursor=cursor)])
            metrics.add_metric(name="Continuations", unit=MetricUnit.Count, value=1)
            logger.info("chunk continues in a new message", extra={"run_id": run.run_id, "chunk": chunk})
            return


def _page(job: Job, program: Program, run: Run, chunk: str, cursor: dict[str, Any] | None) -> dict[str, Any] | None:
    """Process one page; returns the cursor after it (None at the end of the chunk)."""
    fetched = job.fetch(run, chunk, cursor, job.page_size)
    if not fetched.members:  # nothing to process or count (a retry reads it again): no bookkeeping
        return fetched.next_cursor
    frozen = store.freeze_page(run.pk, chunk, cursor, [m for m, _ in fetched.members], fetched.next_cursor)
    if frozen.done:
        return frozen.next_cursor
    members = fetched.members if frozen.fresh else [(m, None) for m in frozen.member_ids]
    totals: Counts = {}
    failed: list[str] = []
    for member_id, item in members:
        try:
            counts = job.process(program, run, member_id, item)
        except Exception:  # one member's bad data must not hold back the page; it is retried on its own
            logger.exception("member failed; isolated", extra={"member_id": member_id, "run_id": run.run_id})
            failed.append(member_id)
            continue
        for name, value in counts.items():
            totals[name] = totals.get(name, 0) + value
    if failed and len(failed) * 2 > len(members) and len(failed) > 1:
        raise RuntimeError(f"{len(failed)} of {len(members)} members failed: retrying the page")
    if failed:
        store.send_messages(_queue(job), [run.message(member_id=m) for m in failed])
        metrics.add_metric(name="MembersIsolated", unit=MetricUnit.Count, value=len(failed))
    if store.complete_page(run.pk, chunk, cursor, totals):
        _emit(totals, pages=1)
    return frozen.next_cursor


def _emit(counts: Counts, *, pages: int) -> None:
    """Metrics of counted work only (a duplicate delivery emits nothing): pages, and each counter."""
    if pages:
        metrics.add_metric(name="PagesProcessed", unit=MetricUnit.Count, value=pages)
    for name, value in counts.items():
        if value:
            metrics.add_metric(name="".join(p.title() for p in name.split("_")), unit=MetricUnit.Count, value=value)
