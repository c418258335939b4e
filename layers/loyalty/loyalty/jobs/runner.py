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
- The run's record says its `status`: `running` from the start; `done` (with `finished_at` and the summary)
  when the last chunk has ended and every page and isolated member is counted, set by the worker that
  finished last (`finish_if_complete`); `failed` when the start could not send its chunks, or a message
  fails on the last receive its queue allows (it goes to the dead-letter queue), or its worker is ended on
  that receive without answering (a note on the run's record outlives the invocation: `recent_runs` shows it
  failed). A failed run whose dead letters are redriven and succeed becomes `done`. `recent_runs` lists them
  for `GET /v1/jobs`.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Literal

from aws_lambda_powertools.metrics import MetricUnit
from pydantic import BaseModel, ConfigDict, Field

from loyalty.kernel.clock import isoformat, utcnow
from loyalty.kernel.config import settings
from loyalty.kernel.errors import ValidationFailed
from loyalty.kernel.months import month_of
from loyalty.kernel.observability import logger, metrics
from loyalty.program.rules import Program, current_program
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
    # The unit of work that counts what it processes, by its key in the run (the same for every delivery):
    # a page (`PAGE#...`), or a member isolated from a page and retried on its own (`MEMBER#<id>#<page>`,
    # with that page in `isolated_from`). A job whose member writes record the unit that made them (the
    # expiry's entry and warning) counts a replayed write only on that unit, or on the member's own message
    # when the page that wrote it isolated the member (that page never counts it): once per run, although
    # the expiry index moves an expired member forward, where a later page of the same walk meets it again.
    page: str | None = None
    isolated_from: str | None = None

    def counts_here(self, run_id: object, unit: object) -> bool:
        """Whether a write recorded by run `run_id` on `unit` is this unit's to count."""
        return run_id == self.run_id and unit is not None and unit in (self.page, self.isolated_from)

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
    """`as_of` from the event (default: today by loyalty.kernel.clock); never later than today."""
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
    now = utcnow()
    run = Run(job.name, month_of(as_of), as_of, f"{now:%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}")
    chunks = job.chunks(current_program(), run)
    store.put_run(
        job.name,
        run.run_id,
        run.pk,
        {
            "job": job.name,
            "run_id": run.run_id,
            "period": run.period,
            "as_of": as_of.isoformat(),
            "chunks": chunks,
            "started_at": isoformat(now),
        },
    )
    try:
        if chunks:
            store.send_messages(_queue(job), [run.message(chunk=chunk, cursor=None) for chunk in chunks])
        else:
            finish_if_complete(job, run)
    except Exception as exc:
        store.finish_run(
            job.name, run.run_id, "failed", {"finished_at": isoformat(utcnow()), "error": str(exc)}, unless="done"
        )
        raise
    logger.info("job run started", extra={"job": job.name, "run_id": run.run_id, "chunks": len(chunks)})
    return {
        "job": job.name,
        "as_of": as_of.isoformat(),
        "period": run.period,
        "run_id": run.run_id,
        "chunks": len(chunks),
    }


@dataclass
class Tally:
    counts: Counts
    open_items: int  # pages and isolated members not done yet
    chunks: set[str]  # the run's plan
    ended_chunks: set[str]


def tally(job: Job, run_pk: str) -> Tally:
    """What the run's items say so far (one Query of the run's partition)."""
    totals = dict.fromkeys(job.counters, 0)
    open_items = 0
    chunks: set[str] = set()
    ended: set[str] = set()
    for item in store.run_items(run_pk):
        sk = str(item.get("SK", ""))
        if sk == "RUN":
            chunks = {str(c) for c in item.get("chunks") or []}
        elif sk.startswith("CHUNK#"):
            ended.add(sk.removeprefix("CHUNK#"))
            continue
        if not sk.startswith(("PAGE#", "MEMBER#")):
            continue
        if not item.get("done"):
            open_items += 1
            continue
        for name, value in (item.get("counts") or {}).items():
            if name in totals:
                totals[name] += int(value)
    return Tally(totals, open_items, chunks, ended)


def summary(job: Job, started: Any) -> dict[str, Any]:
    if not isinstance(started, dict) or not {"period", "run_id", "as_of"} <= set(started):
        raise ValidationFailed.field("summary_of", "not a run this job started")
    pk = store.run_pk(job.name, str(started["period"]), str(started["run_id"]))
    found = tally(job, pk)
    if found.open_items:  # still running, or a page failed and waits for its retry or in the dead-letter queue
        logger.warning("summary of an unfinished run", extra={"run": pk, "open_pages": found.open_items})
    return {"job": job.name, "as_of": str(started["as_of"]), **found.counts}


def finish_if_complete(job: Job, run: Run) -> None:
    """Mark the run done, with its summary, once every chunk was walked to its end and every page and
    isolated member is counted. Called after each chunk's end and each isolated member's success: reads are
    consistent, so the last of them sees everything; the run's condition finishes it once."""
    found = tally(job, run.pk)
    if found.open_items or not found.chunks <= found.ended_chunks:
        return
    summary = {"job": job.name, "as_of": run.as_of.isoformat(), **found.counts}
    if store.finish_run(
        job.name, run.run_id, "done", {"finished_at": isoformat(utcnow()), "summary": summary}, unless="done"
    ):
        logger.info("job run done", extra={"job": job.name, "run_id": run.run_id, **found.counts})


def fail(job: Job, run: Run, error: str) -> None:
    """A message of the run is going to the dead-letter queue: the run cannot finish by itself."""
    store.finish_run(
        job.name, run.run_id, "failed", {"finished_at": isoformat(utcnow()), "error": error}, unless="done"
    )
    logger.error("job run failed", extra={"job": job.name, "run_id": run.run_id, "error": error})


def _queue(job: Job) -> str:
    url = job.queue_url()
    if not url:
        raise RuntimeError(f"the {job.name} work queue URL is not configured")
    return url


# -- the runs, as an administrator sees them ---------------------------------------------------------
# Each job's dead-letter queue (its URL from the environment); a job not listed has none.
DEAD_LETTER_QUEUES: dict[str, Callable[[], str | None]] = {
    "expiry": lambda: settings().expiry_dead_letter_queue_url,
    "tier-evaluation": lambda: settings().tier_dead_letter_queue_url,
}


class JobRun(BaseModel):
    job: str
    run_id: str
    period: str = Field(description="YYYY-MM: the month of as_of.")
    as_of: str = Field(description="YYYY-MM-DD: the date the run was for.")
    status: Literal["running", "done", "failed"] = Field(
        description="`failed`: the start failed, or a message of the run went to the dead-letter queue (it failed "
        "on its last receive, or its worker was ended on it: a timeout, out of memory); the run becomes `done` if "
        "its dead letters are redriven and succeed."
    )
    started_at: str
    finished_at: str | None = Field(default=None, description="When it finished or failed; null while running.")
    summary: dict[str, Any] | None = Field(default=None, description="The job's summary; null until it is done.")
    error: str | None = Field(default=None, description="Why it failed.")
    dead_letters: int = Field(description="Messages waiting in the job's dead-letter queue now (approximate).")


class JobRuns(BaseModel):
    """The newest runs of the monthly jobs, newest first."""

    model_config = ConfigDict(extra="forbid")

    jobs: list[JobRun]


def recent_runs(limit: int = 20) -> JobRuns:
    """One Query for the runs, and one GetQueueAttributes per job listed with a dead-letter queue."""
    records = store.latest_runs(limit)
    dead: dict[str, int] = {}
    for name in sorted({str(r.get("job")) for r in records}):
        url = DEAD_LETTER_QUEUES.get(name, lambda: None)()
        dead[name] = store.waiting_messages(url) if url else 0
    now = isoformat(utcnow())
    out = []
    for r in records:
        status, finished_at, error = r.get("status", "running"), r.get("finished_at"), r.get("error")
        lost = _lost_receive(r, now) if status == "running" else None
        if lost is not None:  # a worker ended on a message's last receive without answering for it
            status, finished_at = "failed", lost
            error = (
                "a message went to the dead-letter queue: its last receive ended without an answer "
                "(the worker timed out or ran out of memory)"
            )
        out.append(
            JobRun(
                job=str(r["job"]),
                run_id=str(r["run_id"]),
                period=str(r["period"]),
                as_of=str(r["as_of"]),
                status=status,
                started_at=str(r.get("started_at", "")),
                finished_at=finished_at,
                summary=_plain(r.get("summary")),
                error=error,
                dead_letters=dead[str(r["job"])],
            )
        )
    return JobRuns(jobs=out)


def _plain(value: Any) -> Any:
    """Numbers as DynamoDB gives them back (Decimal) as the ints they were."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else str(value)
    return value


# -- worker --------------------------------------------------------------------------------------
def handle_batch(job: Job, event: dict[str, Any], context: Any) -> dict[str, Any]:
    """The SQS worker: each message on its own; a failed one is reported, the others are not held back."""
    # Imported here: Powertools' batch module builds its parser's pydantic models at import (~30 ms), and
    # every function that imports this module for the orchestrator or a tier change (members) needs no batch.
    from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response

    processor = BatchProcessor(event_type=EventType.SQS)
    metrics.add_dimension(name="job", value=job.name)

    def record_handler(record: SQSRecord) -> None:
        body = json.loads(record.body)
        last = _last_receive(job, record)
        # On its last receive a message goes to the dead-letter queue if this invocation does not answer for
        # it, and when the runtime ends the invocation (its timeout, out of memory) none of our code runs:
        # the run's record notes the receive and when the invocation must be over, and the note goes when we
        # answer. A note left after that time means the message is in the dead-letter queue (recent_runs).
        note = _note_last_receive(job, body, record, context) if last else None
        try:
            handle_message(job, body, context)
        except Exception as exc:
            if last:
                fail(job, Run.from_message(body), f"a message went to the dead-letter queue: {type(exc).__name__}")
            if note:
                store.clear_last_receive(job.name, str(body["run_id"]), note)
            raise
        if note:
            store.clear_last_receive(job.name, str(body["run_id"]), note)

    return dict(
        process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)
    )


def handle_message(job: Job, body: dict[str, Any], context: Any) -> None:
    run = Run.from_message(body)
    program = current_program()
    if "member_id" in body:  # a member isolated from its page: its own retries, then the dead-letter queue
        member_id, origin = str(body["member_id"]), body.get("page")
        unit = store.member_sk(member_id, origin)
        counts = job.process(program, replace(run, page=unit, isolated_from=origin), member_id, None)
        if store.record_member(run.pk, unit, counts):
            _emit(counts, pages=0)
        finish_if_complete(job, run)
        return
    chunk = str(body["chunk"])
    cursor: dict[str, Any] | None = body.get("cursor")
    while True:
        cursor = _page(job, program, run, chunk, cursor)
        if cursor is None:
            store.end_chunk(run.pk, chunk)
            finish_if_complete(job, run)
            return
        if context is not None and context.get_remaining_time_in_millis() < STOP_WITH_MS_LEFT:
            store.send_messages(_queue(job), [run.message(chunk=chunk, cursor=cursor)])
            metrics.add_metric(name="Continuations", unit=MetricUnit.Count, value=1)
            logger.info("chunk continues in a new message", extra={"run_id": run.run_id, "chunk": chunk})
            return


def _page(job: Job, program: Program, run: Run, chunk: str, cursor: dict[str, Any] | None) -> dict[str, Any] | None:
    """Process one page; returns the cursor after it (None at the end of the chunk)."""
    fetched = job.fetch(run, chunk, cursor, job.page_size)
    if fetched.members:
        frozen = store.freeze_page(run.pk, chunk, cursor, [m for m, _ in fetched.members], fetched.next_cursor)
    else:
        # nothing there now: nothing to do, unless an earlier delivery froze a page here whose members have
        # all left the index since (expired whole) and died before counting it (one GetItem)
        found = store.frozen_page(run.pk, chunk, cursor)
        if found is None:
            return fetched.next_cursor
        frozen = found
    if frozen.done:
        return frozen.next_cursor
    members = fetched.members if frozen.fresh else [(m, None) for m in frozen.member_ids]
    page = store.page_sk(chunk, cursor)
    isolated = set(frozen.isolated)  # left to their own messages by an earlier delivery: never counted here
    members = [(m, item) for m, item in members if m not in isolated]
    on_page = replace(run, page=page)
    totals: Counts = {}
    failed: list[str] = []
    for member_id, item in members:
        try:
            counts = job.process(program, on_page, member_id, item)
        except Exception:  # one member's bad data must not hold back the page; it is retried on its own
            logger.exception("member failed; isolated", extra={"member_id": member_id, "run_id": run.run_id})
            failed.append(member_id)
            continue
        for name, value in counts.items():
            totals[name] = totals.get(name, 0) + value
    if failed and len(failed) * 2 > len(members) and len(failed) > 1:
        raise RuntimeError(f"{len(failed)} of {len(members)} members failed: retrying the page")
    if failed or isolated:
        # the page names them first (so no delivery of it counts them), then their messages go (again, for
        # those an earlier delivery isolated: it may have died before sending; a duplicate counts once)
        again = sorted(isolated | set(failed))
        if not store.isolate_members(run.pk, page, again):
            return frozen.next_cursor  # another delivery of the page counted it, with these members
        store.send_messages(_queue(job), [run.message(member_id=m, page=page) for m in again])
        if failed:
            metrics.add_metric(name="MembersIsolated", unit=MetricUnit.Count, value=len(failed))
        isolated |= set(failed)
    if store.complete_page(run.pk, chunk, cursor, totals, len(isolated)):
        _emit(totals, pages=1)
    return frozen.next_cursor


def _last_receive(job: Job, record: SQSRecord) -> bool:
    """This delivery was the queue's last before its redrive policy moves the message to the dead letters."""
    url = job.queue_url()
    limit = store.max_receives(url) if url else None
    received = int(record.attributes.approximate_receive_count or 0)
    return limit is not None and received >= limit


# When no context says how long the invocation has (a direct call), the workers' timeout (template.yaml).
WORKER_TIMEOUT_MS = 120_000
# Added to an invocation's end before a last receive left without an answer counts as lost (clock skew).
LOST_AFTER_MS = 30_000


def _note_last_receive(job: Job, body: dict[str, Any], record: SQSRecord, context: Any) -> str:
    """Note on the run's record that a message is on its last receive, until when: `<deadline>#<message id>`."""
    left = context.get_remaining_time_in_millis() if context is not None else WORKER_TIMEOUT_MS
    deadline = utcnow() + timedelta(milliseconds=left + LOST_AFTER_MS)
    note = f"{isoformat(deadline)}#{record.message_id}"
    store.note_last_receive(job.name, str(body["run_id"]), note)
    return note


def _lost_receive(record: dict[str, Any], now: str) -> str | None:
    """When a message of this run was lost on its last receive (its note outlived its invocation), if one was."""
    deadlines = sorted(str(note).split("#", 1)[0] for note in record.get("last_receives") or ())
    return next((d for d in deadlines if d < now), None)


def _emit(counts: Counts, *, pages: int) -> None:
    """Metrics of counted work only (a duplicate delivery emits nothing): pages, and each counter."""
    if pages:
        metrics.add_metric(name="PagesProcessed", unit=MetricUnit.Count, value=pages)
    for name, value in counts.items():
        if value:
            metrics.add_metric(name="".join(p.title() for p in name.split("_")), unit=MetricUnit.Count, value=value)
