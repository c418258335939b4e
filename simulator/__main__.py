"""`python -m simulator`: a synthetic year, a summary, a chart and the history it made.

The year runs through the replay engine (`loyalty_local.engine`: the product's handlers on an in-memory
table, no HTTP), group of members by group of members in worker processes (`simulator.shards`: memory set
by the largest group, every core), or against a running stack over HTTP with `--url` (SIM_URL). The
history it leaves (`--save-history`, by default beside the summary) is what `python -m loyalty
what-if --history <file> --program <candidate>` replays: the simulator is a producer of history for
the one replay engine.

Exit status: 0 when the run had no errors and its figures are consistent, 1 otherwise, 2 on bad input.
"""

from __future__ import annotations

import argparse
import os
import re
import secrets
import sys
from datetime import date
from pathlib import Path

from loyalty.program.rules import ProgramError, load_program_file

from loyalty_local.report_files import publish
from simulator import plan, report, shards, stack
from simulator.client import ApiError
from simulator.run import Simulation

# The partner secrets the local stack seeds (loyalty_local.provision.LOCAL_PARTNER_SECRETS).
LOCAL_PARTNER_SECRETS = {"demo-partner": "demo-partner-secret", "other-partner": "other-partner-secret"}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="simulator", description=__doc__)
    parser.add_argument("--program", type=Path, default=Path("programs/demo.yaml"), help="a programme file")
    parser.add_argument("--members", type=int, default=200)
    parser.add_argument("--months", type=int, default=13)
    parser.add_argument("--start", default="2026-01", help="first simulated month, YYYY-MM (default 2026-01)")
    parser.add_argument("--seed", type=int, default=20260101)
    parser.add_argument("--threads", type=int, help="parallel members over HTTP (default 8; in process 1)")
    parser.add_argument("--url", default=os.environ.get("SIM_URL") or None, help="a running local stack (SIM_URL)")
    parser.add_argument("--out", type=Path, default=Path("sim-out"), help="where the PNG and JSON go")
    parser.add_argument("--no-chart", action="store_true", help="write the summary only")
    parser.add_argument(
        "--save-history", type=Path, help="the history export (default <out>/<program>-<date>-history.jsonl.gz)"
    )
    parser.add_argument(
        "--group-members",
        type=int,
        default=500,
        help="in process: members simulated in one engine, those a referral ties kept together (default 500, "
        "0: all in one)",
    )
    parser.add_argument("--workers", type=int, help="in process: engines in parallel (default: one per core)")
    args = parser.parse_args(argv)
    args.threads = args.threads or (8 if args.url else 1)
    args.workers = args.workers or os.cpu_count() or 1
    if args.members < 1 or args.months < 1 or args.threads < 1 or args.workers < 1 or args.group_members < 0:
        parser.error("--members, --months, --threads and --workers must be at least 1, --group-members at least 0")
    if not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", args.start):
        parser.error("--start is YYYY-MM")
    try:
        program = load_program_file(args.program)
    except (ProgramError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2

    profile = plan.Profile.of(program, LOCAL_PARTNER_SECRETS)
    # member ids are unique per run (a SIM_URL stack may hold an earlier run); the behaviour is the seed's
    tag = f"{args.seed % 10000:04d}{secrets.token_hex(2)}"
    year = plan.make_plan(
        program,
        profile,
        members=args.members,
        months=args.months,
        start=args.start,
        seed=args.seed,
        tag=tag,
        keep=None if args.url else (lambda _: False),  # in process, the workers hold the tasks of their shards
    )
    stem = f"{args.program.stem}-{date.today().isoformat()}"
    history = args.save_history or args.out / f"{stem}-history.jsonl.gz"
    if not args.url:
        print(
            f"simulating {program.program_id} on the in-process engine: {args.members} members, {args.months} months "
            f"from {args.start}, seed {args.seed}, groups of up to {args.group_members or 'all'} members on "
            f"{args.workers} workers",
            file=sys.stderr,
        )
        try:
            result, peaks, seconds = shards.simulate(
                args.program,
                program,
                year,
                seed=args.seed,
                tag=tag,
                start=args.start,
                secrets=LOCAL_PARTNER_SECRETS,
                history=history,
                group_members=args.group_members,
                workers=args.workers,
            )
        except (ApiError, stack.StackError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        biggest = max(peaks, default=(0, 0))
        print(
            f"History: {history} (replay it with python -m loyalty_local.whatif); {args.members} members in "
            f"{seconds:.0f} s on {args.workers} workers: {args.members / max(seconds, 0.1) / args.workers:.1f} "
            f"members/s per core; a worker's peak memory {max(p for _, p in peaks)} MB "
            f"(the largest shard: {biggest[0]} members)",
            file=sys.stderr,
        )
        summary = report.summarise(result, exclusive=True)
        publish(report, summary, args.out, stem, with_chart=not args.no_chart)
        return 0 if summary["consistent"] and not summary["errors"] else 1

    where = stack.existing_stack(args.url)
    try:
        with where as client:
            print(
                f"simulating {program.program_id} on {client.base}: {args.members} members, "
                f"{args.months} months from {args.start}, seed {args.seed}",
                file=sys.stderr,
            )
            result = Simulation(client, program, year, LOCAL_PARTNER_SECRETS, threads=args.threads).run()
            result.retried = list(client.retried)
            lines = stack.save_history(client, history)
            print(f"History: {history} ({lines} lines; replay it with python -m loyalty_local.whatif)", file=sys.stderr)
    except (ApiError, stack.StackError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1

    summary = report.summarise(result, exclusive=args.url is None)
    publish(report, summary, args.out, stem, with_chart=not args.no_chart)
    return 0 if summary["consistent"] and not summary["errors"] else 1


if __name__ == "__main__":
    sys.exit(main())
