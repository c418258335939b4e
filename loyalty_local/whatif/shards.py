"""The replay, member group by member group: memory set by the largest group, not by the table.

Members that share nothing replay apart. What ties members keeps them in one group:

- a referral (the referrer's bonus comes with the referred member's first order);
- an account (its members' orders feed one pool) and a transfer (both sides write in one transaction);
- a reward with a stock, in the current or the candidate programme (its members draw on one counter).

The history is read as a stream, twice, and never held: the first pass parses each line and ties the
members into groups (a union-find over member ids, accounts and stocked rewards: a few hundred bytes a
member) and remembers whose each line is (four bytes a line); the second copies each line as it was read,
unparsed, to the file of its shard (groups packed up to `group_members` members; a larger group is a shard
of its own). The monthly job runs go to every shard. Each shard then replays in a worker process of
its own, under each programme, in an engine that the process's end throws away; the workers (one per core
by default) answer with figures only: each month's snapshot (summed across shards, month by month), the
refusals, the members' tiers, and for the current programme the reconciliation of the shard's members
against the live items of that very shard, member by member, every figure and every ledger line.

Every shard replays the whole history's span (its first and last request, read in a first round over the
shards): the job runs it schedules, its months and the cuts of its monthly figures are those of the
unsharded replay, so that the sum over shards is that replay's figure (tests/e2e/test_whatif_year.py
replays a year both ways and compares).
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import tempfile
import time
from array import array
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from loyalty_local.whatif.replay import MAX_REFUSALS

STOCKED = "REWARD#"  # a stocked reward's node among the member ids (no member id holds a `#`)
ACCOUNT = "ACCOUNT#"
# the members whose replay leaves out what an account did (docs/whatif.md, Accounts)
ACCOUNT_ENTRIES = ("pool#", "transfer#", "transfer_in#")


class Ties:
    """A union-find over member ids, `ACCOUNT#<id>` and `REWARD#<id>`."""

    def __init__(self) -> None:
        self.parent: dict[str, str] = {}

    def find(self, node: str) -> str:
        parent = self.parent.setdefault(node, node)
        if parent == node:
            return node
        root = node
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[node] != root:  # path compression
            self.parent[node], node = root, self.parent[node]
        return root

    def tie(self, a: str, b: str) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)  # the smaller id is the root: the same groups every run


def _s(item: dict[str, Any], name: str) -> str | None:
    """A string or number attribute of a DynamoDB-typed item."""
    value = item.get(name)
    if isinstance(value, dict):
        found = value.get("S", value.get("N"))
        return str(found) if found is not None else None
    return None


def _map(item: dict[str, Any], name: str) -> dict[str, Any]:
    value = item.get(name)
    return value.get("M", {}) if isinstance(value, dict) else {}


def _rewards(entry: dict[str, Any]) -> list[str]:
    """The rewards an entry spent: a partner redemption's, a checkout order's."""
    details = _map(entry, "details")
    found = [r] if (r := _s(details, "reward_id")) else []
    spent = _map(details, "checkout").get("rewards")
    if isinstance(spent, dict):
        found += [str(r.get("S")) for r in spent.get("L", []) if isinstance(r, dict) and r.get("S")]
    return found


def owner(item: dict[str, Any]) -> str | None:
    """The node an item belongs to (a member id or `ACCOUNT#<id>`), None for an item of the whole table."""
    member = _s(item, "member_id")
    if member:
        return member
    pk = _s(item, "PK") or ""
    if pk.startswith("MEMBER#"):
        return pk.removeprefix("MEMBER#")
    if account := _s(item, "account_id"):
        return ACCOUNT + account
    if pk.startswith(ACCOUNT):
        return pk
    return None


class HistoryChanged(ValueError):
    """The history's second reading has more or fewer lines than its first."""


PROGRAM, EVERYWHERE, NOBODY = -1, -2, -3  # a record's owner: the programme line, a job run, no member


@dataclass
class Grouping:
    """What the first pass learnt: the members in the order read, the ties between them, the programme the
    export names."""

    ties: Ties = field(default_factory=Ties)
    members: list[str] = field(default_factory=list)
    program: str | None = None
    items: int = 0
    numbers: dict[str, int] = field(default_factory=dict)  # each owner met -> its number: 0, 1, ... as met
    # each record's owner, in the order read: a number of `numbers`, or PROGRAM, EVERYWHERE, NOBODY
    owners: array = field(default_factory=lambda: array("i"))

    def groups(self) -> dict[str, list[str]]:
        """Root -> its members, in the order first read."""
        out: dict[str, list[str]] = {}
        for member in self.members:
            out.setdefault(self.ties.find(member), []).append(member)
        return out


def tie_members(records: Iterable[dict[str, Any]], stocked: set[str]) -> Grouping:
    """The first pass over the history: who is tied to whom."""
    found = Grouping()
    ties, owners, numbers = found.ties, found.owners, found.numbers
    for record in records:
        if "Program" in record:
            found.program = str(record["Program"])
            owners.append(PROGRAM)
            continue
        item = record.get("Item", record)
        found.items += 1
        kind = _s(item, "kind")
        node = owner(item)
        if _s(item, "PK") == "JOBRUNS":
            owners.append(EVERYWHERE)
        elif node is None:
            owners.append(NOBODY)
        else:
            owners.append(numbers.setdefault(node, len(numbers)))
        if node is None:
            continue
        ties.find(node)
        if kind == "member":
            found.members.append(node)
            if referrer := _s(item, "referred_by"):
                ties.tie(node, referrer)
        if account := _s(item, "account_id"):
            ties.tie(node, ACCOUNT + account)
        if kind == "account_member" and (pk := _s(item, "PK")):
            ties.tie(node, pk)
        if kind == "entry":
            details = _map(item, "details")
            for name in ("to_member_id", "from_member_id"):
                if other := _s(details, name):
                    ties.tie(node, other)
            if account := _s(details, "to_account_id"):
                ties.tie(node, ACCOUNT + account)
            for reward in _rewards(item):
                if reward in stocked:
                    ties.tie(node, STOCKED + reward)
    return found


def pack(grouping: Grouping, group_members: int) -> tuple[dict[str, int], list[int]]:
    """Each group's shard (groups whole, up to `group_members` members a shard; 0: one shard for all), and
    each shard's count of members."""
    shard_of: dict[str, int] = {}
    sizes: list[int] = []
    for root, members in grouping.groups().items():
        if not sizes or (group_members and sizes[-1] and sizes[-1] + len(members) > group_members):
            sizes.append(0)
        shard_of[root] = len(sizes) - 1
        sizes[-1] += len(members)
    return shard_of, sizes or [0]


class ShardFiles:
    """The second pass's output: one JSON-lines file per shard. Lines wait in a buffer per shard and go to
    its file `BUFFER` characters at a time, the file opened for that and closed again: a 1,000,000-member table in
    groups of 500 has 2,000 shards, more than a process may hold open, and lines come to them in no order."""

    BUFFER = 1 << 16  # characters: some 150 MB held at most for 2,000 shards (a string object a line)

    def __init__(self, folder: Path, shards: int, program: str | None) -> None:
        self.folder = folder
        self.paths = [folder / f"shard-{i:05d}.jsonl" for i in range(shards)]
        self._waiting: list[list[str]] = [[] for _ in range(shards)]
        self._sizes = [0] * shards
        for path in self.paths:
            with path.open("w", encoding="utf-8") as out:
                if program is not None:
                    out.write(json.dumps({"Program": program}) + "\n")

    def write(self, shard: int, line: str) -> None:
        self._waiting[shard].append(line)
        self._sizes[shard] += len(line)
        if self._sizes[shard] >= self.BUFFER:
            self._flush(shard)

    def _flush(self, shard: int) -> None:
        with self.paths[shard].open("a", encoding="utf-8") as out:
            out.writelines(self._waiting[shard])
        self._waiting[shard].clear()
        self._sizes[shard] = 0

    def close(self) -> None:
        for shard, waiting in enumerate(self._waiting):
            if waiting:
                self._flush(shard)


def split(lines: Iterable[str], grouping: Grouping, shard_of: dict[str, int], files: ShardFiles) -> None:
    """The second pass: the same lines as the first, unparsed, each to its owner's shard (what the first pass
    remembered); the job runs to all; an item of no member (an API key, a counter of the table) to the first,
    where the replay ignores it as the unsharded one does."""
    find = grouping.ties.find
    shard_of_node = [shard_of.get(find(node), 0) for node in grouping.numbers]  # in the numbers' order
    everywhere = range(len(files.paths))
    try:
        for line, number in zip(lines, grouping.owners, strict=True):
            if number == PROGRAM:
                continue
            if not line.endswith("\n"):
                line += "\n"
            if number == EVERYWHERE:
                for shard in everywhere:
                    files.write(shard, line)
            else:
                files.write(shard_of_node[number] if number >= 0 else 0, line)
    except ValueError as exc:  # zip's: one reading ended before the other
        raise HistoryChanged(f"{len(grouping.owners)} lines at the first reading, not as many at the second") from exc
    files.close()


# -- in the worker processes ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Task:
    shard: int
    path: str
    role: str  # "span": the shard's history read only; "current" or "candidate": replayed
    document: str = ""
    span: tuple[datetime, datetime] | None = None
    daily: bool = False


def _history(path: str) -> Any:
    from loyalty.store.core import from_item

    from loyalty_local.whatif.history import requests_of

    def items() -> Iterator[dict[str, Any]]:
        with open(path, encoding="utf-8") as lines:
            for line in lines:
                record = json.loads(line)
                if "Program" not in record:
                    yield from_item(record.get("Item", record))

    return requests_of(items())


def accounted(history: Any) -> set[str]:
    """The members whose history holds an account or a transfer, which the replay does not replay: a
    member who belongs or belonged to an account (its orders split with a pool), or who sent or received
    a transfer, or whose ledger holds a pool's part of its operation."""
    out = {m for m, item in history.members.items() if item.get("account_id") or item.get("account_changed_at")}
    out |= history.accounted
    for member_id, entries in history.ledger.items():
        if any(str(e["key"]).startswith(ACCOUNT_ENTRIES) or e.get("account_id") for e in entries):
            out.add(member_id)
    return out & set(history.members)


def work(task: Task) -> dict[str, Any]:
    """One shard, in a process of its own: its span and the facts of its history, or its replay under one
    programme (and, under the current one, its reconciliation)."""
    import contextlib
    import warnings

    warnings.simplefilter("ignore")  # Powertools' warnings about empty metric sets: the stack's, not ours
    started = time.monotonic()
    history = _history(task.path)
    if task.role == "span":
        return {
            "shard": task.shard,
            "first": history.first,
            "last": history.last,
            "members": len(history.members),
            "requests": dict(Counter(r.what for r in history.requests)),
            "skipped": dict(history.skipped),
            "jobs": len(history.jobs),
        }
    from loyalty_local.whatif.replay import run
    from loyalty_local.whatif.report import reconcile

    history.span = task.span
    with open(os.devnull, "w") as quiet, contextlib.redirect_stdout(quiet):
        outcome = run(task.document, history, daily=task.daily)
    answer: dict[str, Any] = {
        "shard": task.shard,
        "role": task.role,
        "members": len(history.members),
        "outcome": {
            "program_id": outcome.program_id,
            "currency": outcome.currency,
            "point_value": outcome.point_value,
            "months": outcome.months,
            "refused": outcome.refused,
            "requests": outcome.requests,
            "refusals": outcome.refusals,
            "document_hash": outcome.document_hash,
            "jobs": len(outcome.jobs),
            "seconds": outcome.seconds,
        },
        "tiers": {m: f["tier_id"] for m, f in outcome.members.items()},
    }
    if task.role == "current":
        bound = accounted(history)
        differences = reconcile(history, outcome)
        answer["differences"] = [d for d in differences if d["member_id"] not in bound]
        answer["unreplayed"] = sorted(bound)
        answer["unreplayed_differing"] = sorted({d["member_id"] for d in differences if d["member_id"] in bound})
    answer["seconds"] = round(time.monotonic() - started, 1)
    answer["peak_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    return answer


# -- in the parent -------------------------------------------------------------------------------------
@dataclass
class Sharded:
    """The history cut into shards on disk, and what the first round read of them."""

    folder: Path
    paths: list[Path]
    sizes: list[int]  # members per shard
    groups: int
    largest_group: int
    program: str | None
    spans: list[dict[str, Any]] = field(default_factory=list)

    @property
    def members(self) -> int:
        return sum(self.sizes)

    @property
    def first(self) -> datetime | None:
        return min((s["first"] for s in self.spans if s["first"] is not None), default=None)

    @property
    def last(self) -> datetime | None:
        return max((s["last"] for s in self.spans if s["last"] is not None), default=None)

    def facts(self) -> dict[str, Any]:
        requests: Counter[str] = Counter()
        skipped: Counter[str] = Counter()
        for span in self.spans:
            requests.update(span["requests"])
            skipped.update(span["skipped"])
        return {
            "members": sum(s["members"] for s in self.spans),
            "requests": dict(sorted(requests.items())),
            "derived_entries": dict(sorted(skipped.items())),
            "job_runs": max((s["jobs"] for s in self.spans), default=0),
        }

    def remove(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)


def cut(lines: Callable[[], Iterable[str]], stocked: set[str], group_members: int, folder: Path | None) -> Sharded:
    """Both passes over the history (`lines`, an export's lines without the blank ones, is called once for
    each): its members tied into groups and its items written to one file per shard, in a fresh folder
    (under `folder`, or the system's temp)."""
    grouping = tie_members((json.loads(line) for line in lines()), stocked)
    shard_of, sizes = pack(grouping, group_members)
    where = Path(tempfile.mkdtemp(prefix="whatif-shards-", dir=folder))
    files = ShardFiles(where, len(sizes), grouping.program)
    split(lines(), grouping, shard_of, files)
    groups = grouping.groups()
    largest = max((len(m) for m in groups.values()), default=0)
    return Sharded(where, files.paths, sizes, len(groups), largest, grouping.program)


def pool(workers: int, *, one_each: bool = True) -> Any:
    """Worker processes that each replay one shard and end (`one_each`): the shard's engine (moto's backends,
    the process's heap) goes with them (`loyalty_local.workers`)."""
    from loyalty_local import workers as engine_workers

    return engine_workers.pool(workers, one_each=one_each)


def read_spans(sharded: Sharded, workers: int) -> None:
    """The first round: each shard's history read (no engine), for the whole span and the history's facts."""
    with pool(workers, one_each=False) as processes:
        tasks = [Task(i, str(p), "span") for i, p in enumerate(sharded.paths)]
        sharded.spans = sorted(processes.imap_unordered(work, tasks), key=lambda s: s["shard"])


@dataclass
class Merged:
    """One programme's replay, summed over the shards."""

    program_id: str = ""
    currency: str = ""
    point_value: str = "0"
    months: list[dict[str, Any]] = field(default_factory=list)
    members: dict[str, dict[str, Any]] = field(default_factory=dict)  # member id -> {"tier_id": ...}
    refused: dict[str, dict[str, int]] = field(default_factory=dict)
    requests: int = 0
    refusals: list[list[str]] = field(default_factory=list)  # the first 1,000 in time
    document_hash: str = ""
    jobs: int = 0
    seconds: float = 0.0

    def add(self, answer: dict[str, Any]) -> None:
        got = answer["outcome"]
        self.program_id, self.currency, self.point_value = got["program_id"], got["currency"], got["point_value"]
        self.document_hash = got["document_hash"]
        by_month = {m["month"]: m for m in self.months}
        for month in got["months"]:
            mine = by_month.get(month["month"])
            if mine is None:
                by_month[month["month"]] = {**month, "tiers": dict(month["tiers"])}
                continue
            for name, value in month.items():
                if name == "tiers":
                    tiers = Counter(mine["tiers"])
                    tiers.update(value)
                    mine["tiers"] = dict(sorted(tiers.items()))
                elif name != "month":
                    mine[name] = mine.get(name, 0) + value
        self.months = [by_month[m] for m in sorted(by_month)]  # months merged in time order
        for what, codes in got["refused"].items():
            mine_codes = Counter(self.refused.get(what, {}))
            mine_codes.update(codes)
            self.refused[what] = dict(mine_codes)
        self.requests += got["requests"]
        self.refusals = sorted(self.refusals + got["refusals"], key=lambda r: (r[3], r[0], r[1]))[:MAX_REFUSALS]
        self.jobs += got["jobs"]
        self.seconds = round(self.seconds + got["seconds"], 1)
        self.members.update({m: {"tier_id": t} for m, t in answer["tiers"].items()})


@dataclass
class Replayed:
    current: Merged
    candidate: Merged
    differences: list[dict[str, Any]]
    unreplayed: list[str]  # members in accounts or transfers (their figures not reconciled)
    unreplayed_differing: list[str]
    peaks: list[tuple[int, int]]  # (members of the shard, peak memory of its worker in MB)
    seconds: float


def replay(sharded: Sharded, current: str, candidate: str, *, daily: bool, workers: int) -> Replayed:
    """Every shard under both programmes, on `workers` processes, a progress bar over members."""
    from loyalty_local.progress import Progress

    span = (sharded.first, sharded.last)
    assert span[0] is not None and span[1] is not None
    tasks = [
        Task(i, str(path), role, document, span, daily)  # type: ignore[arg-type]
        for i, path in enumerate(sharded.paths)
        for role, document in (("current", current), ("candidate", candidate))
        if sharded.spans[i]["members"]
    ]
    started = time.monotonic()
    progress = Progress(2 * sharded.members, "what-if members")
    merged = {"current": Merged(), "candidate": Merged()}
    differences: list[dict[str, Any]] = []
    unreplayed: list[str] = []
    differing: list[str] = []
    peaks: list[tuple[int, int]] = []
    with pool(workers) as processes:
        for answer in processes.imap_unordered(work, tasks):
            merged[answer["role"]].add(answer)
            peaks.append((answer["members"], answer["peak_mb"]))
            if answer["role"] == "current":
                differences += answer["differences"]
                unreplayed += answer["unreplayed"]
                differing += answer["unreplayed_differing"]
            progress.set_stage(f"shard {answer['shard'] + 1}/{len(sharded.paths)} {answer['role']}")
            progress.advance(answer["members"])
    progress.close()
    # refusals first, then member by member, as one replay lists them
    differences.sort(key=lambda d: (not str(d["figure"]).startswith("refused "), d["member_id"], str(d["figure"])))
    return Replayed(
        merged["current"],
        merged["candidate"],
        differences,
        sorted(unreplayed),
        sorted(differing),
        peaks,
        round(time.monotonic() - started, 1),
    )
