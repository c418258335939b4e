"""What if? Our own members' recorded history, replayed under the current and a candidate programme.

    python -m loyalty_local.whatif --program candidate.yaml                  # the `make run` stack on :3000
    python -m loyalty_local.whatif --program candidate.yaml --url http://127.0.0.1:3500
    python -m loyalty_local.whatif --program candidate.yaml --table LoyaltyTable-prod \
        --current ssm:/loyalty/prod/program
    python -m loyalty_local.whatif --program candidate.yaml --history export/   # a DynamoDB export (DYNAMODB_JSON)
    make what-if PROGRAM=candidate.yaml

The history (`loyalty_local.whatif.history`) is read from a running local stack (`GET /_local/history`),
a deployed table (read-only Scan, a page at a time, with a progress bar; AWS credentials as usual) or
an export file. It is replayed twice, side by side in two processes, through the replay engine
(`loyalty_local.engine`: the handlers and domain code of the product, on an in-memory table), in the
order it was recorded, with the monthly jobs as they ran: once under the current programme, once under
the candidate. The report (text, JSON, PNG) sets the two side by side: points issued, redeemed (what was
affordable), expired, liability in currency, breakage, members per tier each month, and the members
whose tier would differ.

The replay under the current programme must reproduce the live table exactly, member by member (every
figure, every ledger line): it is a second reconciliation. Exit status 1 when it does not (the
differences are listed), 2 on bad input.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from queue import Empty
from typing import Any

from loyalty_local.report_files import publish
from loyalty_local.whatif import history as hist
from loyalty_local.whatif import report
from loyalty_local.whatif.replay import Outcome, child


class Refused(Exception):
    """Bad input: exit status 2 with this message."""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m loyalty_local.whatif", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--program", type=Path, required=True, help="the candidate programme file")
    parser.add_argument(
        "--current",
        help="the current programme: a file, or ssm:<parameter> (default: the one the running stack or the "
        "export names; for --table, ssm:/loyalty/<stage>/program)",
    )
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--url", help="a running local stack (default http://127.0.0.1:3000)")
    where.add_argument("--table", help="a deployed table, read-only (AWS credentials and region as usual)")
    where.add_argument("--history", type=Path, help="an export: a file or a directory of DYNAMODB_JSON files")
    parser.add_argument("--endpoint", help="with --table: a DynamoDB endpoint (the local stack's embedded AWS)")
    parser.add_argument("--stage", default="dev", help="with --table: the stack's stage, for the programme parameter")
    parser.add_argument(
        "--save-history", type=Path, help="also write the history read as an export file (.gz: gzipped)"
    )
    parser.add_argument("--out", type=Path, default=Path("whatif-out"), help="where the JSON and the PNG go")
    parser.add_argument("--no-chart", action="store_true")
    args = parser.parse_args(argv)
    try:
        return _run(args)
    except Refused as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


def _run(args: argparse.Namespace) -> int:
    from loyalty.program.rules import ProgramError, load_program_file

    try:
        candidate = load_program_file(args.program)
        candidate_document = args.program.read_text(encoding="utf-8")
    except (ProgramError, OSError) as exc:
        raise Refused(f"--program: {exc}") from None

    source, raw, named_program = _read(args)
    typed = list(raw)
    if args.save_history:
        hist.write_export(typed, args.save_history, named_program)
        print(f"History: {args.save_history} ({len(typed)} items)", file=sys.stderr)
    from loyalty.store.core import from_item

    history = hist.requests_of(from_item(item) for item in typed)
    if not history.requests:
        raise Refused(f"{source} holds no history (no members)")
    current_document, current_label = _current(args, named_program, f"of {source}")
    print(
        f"replaying {len(history.requests)} requests of {len(history.members)} members from {source} "
        f"({history.first:%Y-%m-%d} to {history.last:%Y-%m-%d}, {len(history.jobs)} job runs): "
        f"current {current_label} and candidate {args.program}",
        file=sys.stderr,
    )
    current_program = _parse(current_document, current_label)
    daily = bool(current_program.pending_days or candidate.pending_days)
    if not history.jobs:
        print(
            "note: the history records no job runs: the monthly jobs run on each 1st at 00:05; if the live "
            "table never ran them, the reconciliation shows it",
            file=sys.stderr,
        )
    if daily:
        print(
            "note: pending points (pending_days) become available by a daily job whose runs are not recorded: "
            "the replay runs it each day at 00:05, so a live table that ran it at another hour may differ",
            file=sys.stderr,
        )
    current, candidate_outcome = replay_both(history, current_document, candidate_document, daily=daily)
    summary = report.compare(
        history,
        current,
        candidate_outcome,
        source=source,
        files={"current": current_label, "candidate": str(args.program)},
    )
    stem = f"{args.program.stem}-{date.today().isoformat()}"
    publish(report, summary, args.out, stem, with_chart=not args.no_chart)
    return 0 if summary["reconciliation"]["equal"] else 1


def replay_both(history: hist.History, current: str, candidate: str, *, daily: bool) -> tuple[Outcome, Outcome]:
    """Both replays at once, each in a process of its own, with one progress bar."""
    from loyalty_local.progress import Progress

    # the children need the requests and the job runs, not the live members and ledgers
    slim = hist.History(history.requests, history.jobs, {}, {}, {})
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    workers = {
        name: context.Process(target=child, args=(document, slim, daily, queue), name=f"replay-{name}")
        for name, document in (("current", current), ("candidate", candidate))
    }
    slots: dict[int, str] = {}
    for name, process in workers.items():
        process.start()
        slots[process.pid or 0] = name
    progress = Progress(2 * len(history.requests), "what-if")
    done: list[Outcome] = []
    errors: list[str] = []
    while len(done) + len(errors) < len(workers):
        try:
            kind, value = queue.get(timeout=5)
        except Empty:  # a replay that died without a word (killed, out of memory) must not hang the run
            dead = [n for n, p in workers.items() if p.exitcode not in (None, 0)]
            if dead and queue.empty():
                code = workers[dead[0]].exitcode
                raise RuntimeError(f"the {' and '.join(dead)} replay process died (exit {code})") from None
            continue
        if kind == "tick":
            progress.advance(int(value))
        elif kind == "done":
            done.append(value)
        else:
            errors.append(str(value))
    progress.close()
    for process in workers.values():
        process.join()
    if errors:
        raise RuntimeError("a replay failed:\n" + "\n".join(errors))
    # the children answer in the order they finish: tell them apart by the order they were given
    by_role = {"current": done[0], "candidate": done[1]}
    if done[0].document_hash != _hash(current):
        by_role = {"current": done[1], "candidate": done[0]}
    return by_role["current"], by_role["candidate"]


def _hash(document: str) -> str:
    import hashlib

    return hashlib.sha256(document.encode()).hexdigest()


def _parse(document: str, label: str) -> Any:
    from loyalty.program.rules import ProgramError, bundled_program, parse_program

    try:
        if document.strip().startswith("bundled:"):
            return bundled_program(document.strip().removeprefix("bundled:"))
        return parse_program(document, source=label)
    except ProgramError as exc:
        raise Refused(f"the current programme ({label}): {exc}") from None


def _current(args: argparse.Namespace, named: str | None, source_label: str) -> tuple[str, str]:
    """The current programme's document and where it came from."""
    if args.current and not args.current.startswith("ssm:"):
        try:
            return Path(args.current).read_text(encoding="utf-8"), args.current
        except OSError as exc:
            raise Refused(f"--current: {exc}") from None
    if args.current or args.table:
        name = args.current or f"ssm:/loyalty/{args.stage}/program"
        from loyalty.program.rules import ProgramError, load_source

        try:
            program = load_source(name)
        except (ProgramError, Exception) as exc:  # an SSM error names the parameter: say which one
            raise Refused(f"cannot read the current programme from {name}: {exc}") from None
        return json.dumps(program.model_dump(mode="json", exclude_defaults=True)), name
    if named is None:
        raise Refused("this history does not name its programme: give --current <file>")
    return named, f"the programme {source_label}"


def _read(args: argparse.Namespace) -> tuple[str, Iterator[dict[str, Any]], str | None]:
    """(where from, DynamoDB-typed items, the programme document the source names)."""
    if args.history:
        if not args.history.exists():
            raise Refused(f"--history: {args.history} does not exist")
        program, items = _split(_lines_of_export(args.history))
        return str(args.history), items, program
    if args.table:
        return f"table {args.table}", _scan(args.table, args.endpoint), None
    url = (args.url or "http://127.0.0.1:3000").rstrip("/")
    try:
        with urllib.request.urlopen(f"{url}/_local/history", timeout=600) as answer:  # noqa: S310 - a local stack
            text = answer.read().decode()
    except (urllib.error.URLError, OSError) as exc:
        raise Refused(
            f"no local stack answers at {url} ({exc}); start one with `make run`, or give --table/--history"
        ) from None
    program, items = _split(json.loads(line) for line in text.splitlines() if line.strip())
    return url, items, program


def _lines_of_export(path: Path) -> Iterator[dict[str, Any]]:
    import gzip

    files = (
        sorted(p for p in path.rglob("*") if p.is_file() and p.suffix in (".gz", ".json", ".jsonl"))
        if path.is_dir()
        else [path]
    )
    for file in files:
        opener = gzip.open if file.suffix == ".gz" else open
        with opener(file, "rt", encoding="utf-8") as lines:
            for line in lines:
                if line.strip():
                    yield json.loads(line)


def _split(records: Iterator[dict[str, Any]]) -> tuple[str | None, Iterator[dict[str, Any]]]:
    program: str | None = None
    items: list[dict[str, Any]] = []
    for record in records:
        if "Program" in record:
            program = str(record["Program"])
        else:
            items.append(record.get("Item", record))
    return program, iter(items)


def _scan(table: str, endpoint: str | None) -> Iterator[dict[str, Any]]:
    import os

    from loyalty.store import history

    from loyalty_local.progress import Progress

    os.environ["TABLE_NAME"] = table
    if endpoint:
        os.environ["AWS_ENDPOINT_URL_DYNAMODB"] = endpoint
    try:
        total = history.approximate_items()
    except Exception as exc:  # credentials, region, a missing table: say so before anything else
        raise Refused(f"cannot read table {table}: {exc}") from None
    progress = Progress(total or 1, f"read {table}")
    kept = 0

    def page(scanned: int, found: int) -> None:
        nonlocal kept
        kept += found
        progress.set_stage(f"kept {kept}")
        progress.advance(scanned)

    items = list(history.scan_raw(on_page=page))
    progress.close()
    return iter(items)
