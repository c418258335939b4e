"""SQS event sources and minute schedules, run in the background as Lambda and EventBridge Scheduler run them.

Every SQS event source of the template whose queue no scheduled job sends to (the jobs' work queues are drained
by `POST /_local/jobs/{job}` itself, so that a run answers its summary once its work is done) is polled a few
times a second; a batch goes to its function as Lambda's event source mapping sends it, up to the source's
`ScalingConfig.MaximumConcurrency` batches at once (so one slow batch holds up no other), and the partial batch
response is honoured (a failed message returns to the queue; the queue's redrive policy moves it on).

A `rate(1 minute)` schedule (the webhook dispatcher's) runs every second here, by the stack's clock: what it
looks for is what the clock says is due, so moving the clock (`POST /_local/clock`) past a retry's time makes the
retry within a second or two, as the contract's local mode says.
"""

from __future__ import annotations

import json
import threading
import traceback
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from loyalty_local.runtime import FunctionPool, sqs_event
from loyalty_local.template import Function, Template

POLL_SECONDS = (0.02, 0.2)  # the wait between polls: short while messages come, longer when the queues are idle
SCHEDULE_SECONDS = 1.0
LOCAL_CONCURRENCY_MAX = 4  # two cores and one emulator lock: more batches at once only wait, and thrash the GIL
SECONDS_SCHEDULES = ("rate(1 minute)",)


@dataclass
class Source:
    function: str
    queue_url: str
    queue_arn: str
    batch_size: int
    concurrency: int
    in_flight: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


def job_queues(template: Template, functions: dict[str, Function]) -> set[str]:
    """The queue URLs the scheduled jobs' functions name in their environment (their work queues)."""
    names: set[str] = set()
    for fn in functions.values():
        if any(json.loads(s.get("Input") or "{}").get("job") for s in fn.schedules):
            names.update(v for v in fn.environment.values() if v.startswith("https://sqs."))
    return names


def background_sources(template: Template, functions: dict[str, Function]) -> list[Source]:
    skip = job_queues(template, functions)
    out = []
    for name, fn in functions.items():
        for props in fn.sqs_sources:
            arn = str(props["Queue"])
            queue = arn.rsplit(":", 1)[1]
            url = f"https://sqs.{template.region}.amazonaws.com/{template.account}/{queue}"
            if url in skip:
                continue
            concurrency = int((props.get("ScalingConfig") or {}).get("MaximumConcurrency") or 2)
            out.append(
                Source(
                    function=name,
                    queue_url=url,
                    queue_arn=arn,
                    batch_size=min(10, int(props.get("BatchSize") or 10)),
                    concurrency=max(1, min(concurrency, LOCAL_CONCURRENCY_MAX)),
                )
            )
    return out


def minute_schedules(functions: dict[str, Function]) -> list[tuple[str, dict[str, Any]]]:
    """(function, the event Scheduler sends) for each schedule the local stack runs every second."""
    out = []
    for name, fn in functions.items():
        for schedule in fn.schedules:
            if str(schedule.get("ScheduleExpression", "")).strip() in SECONDS_SCHEDULES:
                out.append((name, json.loads(schedule.get("Input") or "{}")))
    return out


def run_batch(
    pool: FunctionPool, sqs: Any, queue_url: str, queue_arn: str, messages: list[dict[str, Any]], retry_in: int
) -> None:
    """One batch to its function as Lambda's SQS event source mapping sends it, its partial batch response
    honoured: the messages it reports failed (all of them when it raises) return to the queue after `retry_in`
    seconds (the queue's redrive policy moves them on after maxReceiveCount); the others are deleted."""
    try:
        result = pool.invoke(sqs_event(messages, queue_arn))
        failed = {f["itemIdentifier"] for f in (result or {}).get("batchItemFailures") or []}
    except Exception:
        traceback.print_exc()
        failed = {m["MessageId"] for m in messages}
    entries = [
        ({"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}, m["MessageId"] in failed) for i, m in enumerate(messages)
    ]
    gone = [entry for entry, again in entries if not again]
    back = [{**entry, "VisibilityTimeout": retry_in} for entry, again in entries if again]
    if gone:
        sqs.delete_message_batch(QueueUrl=queue_url, Entries=gone)
    if back:
        sqs.change_message_visibility_batch(QueueUrl=queue_url, Entries=back)


class BackgroundRunner:
    def __init__(self, template: Template, functions: dict[str, Function], pools: dict[str, FunctionPool]) -> None:
        self.sources = background_sources(template, functions)
        self.schedules = minute_schedules(functions)
        self.pools = pools
        workers = sum(s.concurrency for s in self.sources) + 1
        self._executor = ThreadPoolExecutor(max_workers=max(2, workers), thread_name_prefix="lambda-sqs")
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._sqs: Any = None

    def start(self) -> None:
        if self.sources:
            self._threads.append(threading.Thread(target=self._poll_loop, daemon=True, name="sqs-poller"))
        if self.schedules:
            self._threads.append(threading.Thread(target=self._schedule_loop, daemon=True, name="minute-schedules"))
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._executor.shutdown(wait=False, cancel_futures=True)

    def _client(self) -> Any:
        if self._sqs is None:
            import boto3

            self._sqs = boto3.client("sqs")
        return self._sqs

    # -- SQS ----------------------------------------------------------------------------------------
    def _poll_loop(self) -> None:
        wait = POLL_SECONDS[1]
        while not self._stop.is_set():
            busy = False
            for source in self.sources:
                try:
                    busy |= self._poll(source)
                except Exception:
                    traceback.print_exc()
            wait = POLL_SECONDS[0] if busy else min(POLL_SECONDS[1], wait * 2)
            if not busy:
                self._stop.wait(wait)

    def _poll(self, source: Source) -> bool:
        with source.lock:
            if source.in_flight >= source.concurrency:
                return False
            source.in_flight += 1
        try:
            got = (
                self._client()
                .receive_message(
                    QueueUrl=source.queue_url, MaxNumberOfMessages=source.batch_size, AttributeNames=["All"]
                )
                .get("Messages", [])
            )
        except Exception:
            self._done(source)
            raise
        if not got:
            self._done(source)
            return False
        self._executor.submit(self._run_batch, source, got)
        return True

    def _done(self, source: Source) -> None:
        with source.lock:
            source.in_flight -= 1

    def _run_batch(self, source: Source, messages: list[dict[str, Any]]) -> None:
        try:
            run_batch(self.pools[source.function], self._client(), source.queue_url, source.queue_arn, messages, 1)
        except Exception:
            traceback.print_exc()
        finally:
            self._done(source)

    # -- schedules ----------------------------------------------------------------------------------
    def _schedule_loop(self) -> None:
        while not self._stop.wait(SCHEDULE_SECONDS):
            for function, event in self.schedules:
                try:
                    self.pools[function].invoke(event)
                except Exception:
                    traceback.print_exc()

    def run_schedules(self) -> None:
        """Run each minute schedule once now (tests and the bench, instead of waiting for the second)."""
        for function, event in self.schedules:
            self.pools[function].invoke(event)
