"""What if? Our own members' recorded history, replayed under the current and a candidate programme.

    python -m loyalty_local.whatif --program candidate.yaml                  # the `make run` stack on :3000
    python -m loyalty_local.whatif --program candidate.yaml --url http://127.0.0.1:3500
    python -m loyalty_local.whatif --program candidate.yaml --table LoyaltyTable-prod \
        --current ssm:/loyalty/prod/program
    python -m loyalty_local.whatif --program candidate.yaml --history export/   # a DynamoDB export (DYNAMODB_JSON)
    make what-if PROGRAM=candidate.yaml

The history (`loyalty_local.whatif.history`) is read from a running local stack (`GET /_local/history`),
a deployed table (read-only Scan, a page at a time, with a progress bar; AWS credentials as usual) or
an export file, as a stream. It is replayed through the replay engine (`loyalty_local.engine`: the
handlers and domain code of the product, on an in-memory table), in the order it was recorded, with the
monthly jobs as they ran, once under the current programme and once under the candidate, group of
members by group of members (`loyalty_local.whatif.shards`: members that share nothing apart, each shard
in a worker process of its own, one per core; `--group-members`, `--workers`). The report (text, JSON,
PNG) sets the two side by side: points issued, redeemed (what was affordable), expired, liability in
currency, breakage, members per tier each month, and the members whose tier would differ.

The replay under the current programme must reproduce the live table exactly, member by member (every
figure, every ledger line): it is a second reconciliation. Exit status 1 when it does not (the
differences are listed), 2 on bad input. Members in an account or a transfer, which the replay does not
replay, are listed as not reconciled (docs/whatif.md, Accounts and transfers).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path
from typing import Any

from loyalty_local.report_files import publish
from loyalty_local.whatif import history as hist
from loyalty_local.whatif import report, shards

# Members replayed in one engine: about 1.1 MB each at the engine's peak (docs/whatif.md, How fast)
DEFAULT_GROUP_MEMBERS = 500


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
    parser.add_argument(
        "--group-members",
        type=int,
        default=DEFAULT_GROUP_MEMBERS,
        help=f"members replayed in one engine, groups of tied members kept whole (default {DEFAULT_GROUP_MEMBERS}; "
        "0: the whole history in one engine)",
    )
    parser.add_argument("--workers", type=int, help="replays in parallel (default: one per core)")
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
    if args.group_members < 0 or (args.workers is not None and args.workers < 1):
        raise Refused("--group-members is at least 0 and --workers at least 1")
    workers = args.workers or os.cpu_count() or 1

    with tempfile.TemporaryDirectory(prefix="whatif-") as scratch:
        source, lines = _read(args, Path(scratch))

        def records() -> Iterator[dict[str, Any]]:
            return (json.loads(line) for line in lines())

        if args.save_history:
            count = hist.write_records(records(), args.save_history)
            print(f"History: {args.save_history} ({count} items)", file=sys.stderr)
        named_program = _named(records)
        current_document, current_label = _current(args, named_program, f"of {source}")
        current_program = _parse(current_document, current_label)
        stocked = {r.id for r in (*current_program.rewards, *candidate.rewards) if r.stock is not None}
        try:
            sharded = shards.cut(lines, stocked, args.group_members, Path(scratch))
        except shards.HistoryChanged as exc:
            raise Refused(f"{source} changed while it was read ({exc}): give a history that stays as it is") from None
        try:
            shards.read_spans(sharded, workers)
            if not sharded.members or sharded.first is None:
                raise Refused(f"{source} holds no history (no members)")
            facts = sharded.facts()
            requests = sum(facts["requests"].values())
            print(
                f"replaying {requests} requests of {sharded.members} members from {source} "
                f"({sharded.first:%Y-%m-%d} to {sharded.last:%Y-%m-%d}, {facts['job_runs']} job runs): "
                f"current {current_label} and candidate {args.program}; {sharded.groups} groups of members "
                f"(the largest {sharded.largest_group}) in {len(sharded.paths)} shards of up to "
                f"{args.group_members or 'all'} members, on {workers} workers",
                file=sys.stderr,
            )
            daily = bool(current_program.pending_days or candidate.pending_days)
            if not facts["job_runs"]:
                print(
                    "note: the history records no job runs: the monthly jobs run on each 1st at 00:05; if the "
                    "live table never ran them, the reconciliation shows it",
                    file=sys.stderr,
                )
            if daily:
                print(
                    "note: pending points (pending_days) become available by a daily job whose runs are not "
                    "recorded: the replay runs it each day at 00:05, so a live table that ran it at another "
                    "hour may differ",
                    file=sys.stderr,
                )
            replayed = shards.replay(sharded, current_document, candidate_document, daily=daily, workers=workers)
        finally:
            sharded.remove()
    _speed(replayed, sharded.members, workers)
    summary = report.compare(
        facts,
        replayed,
        as_of=sharded.last,
        source=source,
        files={"current": current_label, "candidate": str(args.program)},
    )
    stem = f"{args.program.stem}-{date.today().isoformat()}"
    publish(report, summary, args.out, stem, with_chart=not args.no_chart)
    return 0 if summary["reconciliation"]["equal"] else 1


def _speed(replayed: shards.Replayed, members: int, workers: int) -> None:
    """Members per second per core, and the workers' peak memory by the size of the shard they replayed."""
    rate = 2 * members / replayed.seconds / workers if replayed.seconds else 0.0
    peaks: dict[int, int] = {}
    for size, peak in replayed.peaks:
        peaks[size] = max(peaks.get(size, 0), peak)
    biggest = max(peaks, default=0)
    print(
        f"replayed {members} members under both programmes in {replayed.seconds:.0f} s on {workers} workers: "
        f"{rate:.1f} members/s per core; a worker's peak memory {peaks.get(biggest, 0)} MB "
        f"(its shard: {biggest} members)",
        file=sys.stderr,
    )


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


def _read(args: argparse.Namespace, scratch: Path) -> tuple[str, Callable[[], Iterator[str]]]:
    """(where from, a function that reads the history from its start each time it is called: the lines of
    an export, unparsed and none blank, a first one naming the programme when the source does). A table or a
    stack is read once, into a file in `scratch`, as it streams; an export is read where it is."""
    if args.history:
        if not args.history.exists():
            raise Refused(f"--history: {args.history} does not exist")
        path: Path = args.history
        return str(args.history), lambda: _lines_of_export(path)
    copy = scratch / "history.jsonl"
    if args.table:
        hist.write_records(({"Item": item} for item in _scan(args.table, args.endpoint)), copy)
        return f"table {args.table}", lambda: _lines_of_export(copy)
    url = (args.url or "http://127.0.0.1:3000").rstrip("/")
    try:
        with (
            urllib.request.urlopen(f"{url}/_local/history", timeout=600) as answer,  # noqa: S310 - a local stack
            copy.open("wb") as out,
        ):
            shutil.copyfileobj(answer, out)
    except (urllib.error.URLError, OSError) as exc:
        raise Refused(
            f"no local stack answers at {url} ({exc}); start one with `make run`, or give --table/--history"
        ) from None
    return url, lambda: _lines_of_export(copy)


def _named(records: Callable[[], Iterator[dict[str, Any]]]) -> str | None:
    """The programme document the history names (its first record, when it names one)."""
    for record in records():
        return str(record["Program"]) if "Program" in record else None
    return None


def _lines_of_export(path: Path) -> Iterator[str]:
    """An export's lines as read (a file, or a directory's files in name order: a DynamoDB export to S3 as
    downloaded, its `manifest-*` files left out), the blank ones left out."""
    import gzip

    files = (
        sorted(
            p
            for p in path.rglob("*")
            if p.is_file() and p.suffix in (".gz", ".json", ".jsonl") and not p.name.startswith("manifest-")
        )
        if path.is_dir()
        else [path]
    )
    for file in files:
        opener = gzip.open if file.suffix == ".gz" else open
        with opener(file, "rt", encoding="utf-8") as lines:
            for line in lines:
                if line.strip():
                    yield line


def _scan(table: str, endpoint: str | None) -> Iterator[dict[str, Any]]:
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

    yield from history.scan_raw(on_page=page)
    progress.close()
