"""The what-if's groups of members (loyalty_local.whatif.shards): what ties members keeps them in one shard,
members that share nothing replay apart, and every shard gets the monthly job runs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from boto3.dynamodb.types import TypeSerializer

from loyalty_local.whatif import shards

TYPED = TypeSerializer()


def _typed(item: dict[str, Any]) -> dict[str, Any]:
    return {"Item": {k: TYPED.serialize(v) for k, v in item.items()}}


def _member(member_id: str, **extra: Any) -> dict[str, Any]:
    item = {"PK": f"MEMBER#{member_id}", "SK": "PROFILE", "kind": "member", "member_id": member_id}
    return _typed({**item, "channel": "web", "enrolled_at": "2026-01-05T10:00:00+00:00", **extra})


def _entry(member_id: str, key: str, **details: Any) -> dict[str, Any]:
    item = {"PK": f"ENTRY#{key}", "SK": "ENTRY", "kind": "entry", "member_id": member_id, "key": key}
    return _typed({**item, "details": details})


def _history() -> list[dict[str, Any]]:
    return [
        {"Program": "bundled:demo"},
        _member("a"),
        _member("b", referred_by="a"),
        _member("c", account_id="house"),
        _member("d"),
        _typed({"PK": "ACCOUNT#house", "SK": "MEMBER#d", "kind": "account_member", "member_id": "d"}),
        _member("e"),
        _member("f"),
        _entry("e", "transfer#t1", to_member_id="f"),
        _member("g"),
        _member("h"),
        _entry("g", "redeem#p#r1", reward_id="stocked"),
        _entry("h", "earn#o1", checkout={"rewards": ["stocked"]}),
        _member("i"),
        _member("j"),
        _entry("i", "redeem#p#r2", reward_id="unlimited"),
        _entry("j", "redeem#p#r3", reward_id="unlimited"),
        _typed(
            {
                "PK": "JOBRUNS",
                "SK": "expiry#2026-02-01",
                "kind": "job_status",
                "job": "expiry",
                "as_of": "2026-02-01",
                "started_at": "2026-02-01T00:05:00+00:00",
            }
        ),
        _typed({"PK": "APIKEY#x", "SK": "KEY", "kind": "api_key"}),
    ]


def test_what_ties_members_keeps_them_in_one_group_and_nothing_else_does() -> None:
    grouping = shards.tie_members(_history(), stocked={"stocked"})
    groups = sorted(sorted(members) for members in grouping.groups().values())
    assert groups == [["a", "b"], ["c", "d"], ["e", "f"], ["g", "h"], ["i"], ["j"]]
    assert grouping.program == "bundled:demo" and grouping.items == 18


def test_groups_are_packed_whole_and_every_shard_gets_the_job_runs(tmp_path: Path) -> None:
    records = _history()
    grouping = shards.tie_members(records, stocked={"stocked"})
    shard_of, sizes = shards.pack(grouping, 3)
    assert sizes == [2, 2, 2, 3, 1]  # groups whole, in the order read: two of two never share a shard of three
    files = shards.ShardFiles(tmp_path, len(sizes), grouping.program)
    files.BUFFER = 1  # every line to its file at once: each file opened again for each
    shards.split([json.dumps(r) + "\n" for r in records], grouping, shard_of, files)
    held = []
    for path in files.paths:
        lines = [json.loads(line) for line in path.read_text().splitlines()]
        assert lines[0] == {"Program": "bundled:demo"}
        items = [line["Item"] for line in lines[1:]]
        assert sum(1 for i in items if i["PK"]["S"] == "JOBRUNS") == 1
        held.append(sorted(i["member_id"]["S"] for i in items if i.get("kind", {}).get("S") == "member"))
    assert held == [["a", "b"], ["c", "d"], ["e", "f"], ["g", "h", "i"], ["j"]]
    # an item of no member goes to the first shard, where the replay ignores it as the unsharded one does
    assert '"APIKEY#x"' in files.paths[0].read_text()
    # 0: the whole history in one shard, the unsharded replay
    assert shards.pack(grouping, 0)[1] == [10]


def test_the_second_pass_copies_each_line_as_read_to_the_shard_the_first_pass_found_for_it(tmp_path: Path) -> None:
    records = _history()
    records[2] = records[2]["Item"]  # an item without its "Item" wrapper is read as one
    lines = [json.dumps(r, indent=None, separators=(", ", ": ")) + "\n" for r in records]
    lines[-1] = lines[-1].rstrip("\n")  # a last line without its newline
    grouping = shards.tie_members([json.loads(line) for line in lines], stocked={"stocked"})
    shard_of, sizes = shards.pack(grouping, 2)
    files = shards.ShardFiles(tmp_path, len(sizes), grouping.program)
    shards.split(lines, grouping, shard_of, files)
    written = [path.read_text().splitlines(keepends=True) for path in files.paths]
    # a, b, the job run and the API key, byte for byte
    assert written[0][1:] == [lines[1], lines[2], lines[17], lines[18] + "\n"]
    assert sorted(line for shard in written for line in shard[1:] if '"JOBRUNS"' not in line) == sorted(
        [line for line in lines[1:-1] if '"JOBRUNS"' not in line] + [lines[-1] + "\n"]
    )  # every other line once, in one shard
    history = shards._history(str(files.paths[0]))  # the shard's reader takes the unwrapped item too
    assert sorted(history.members) == ["a", "b"] and [r.what for r in history.requests] == ["enrol", "enrol"]
    # a history that changed between the two readings is refused, not cut wrongly
    (tmp_path / "again").mkdir()
    with pytest.raises(shards.HistoryChanged):
        shards.split([*lines, lines[1]], grouping, shard_of, shards.ShardFiles(tmp_path / "again", len(sizes), None))


def test_a_dynamodb_export_folder_is_read_as_its_data_files_in_name_order(tmp_path: Path) -> None:
    """A DynamoDB export to S3 as downloaded: its manifests (JSON, not items) left out, its gzipped data files
    read in name order, blank lines skipped; the same lines at each reading."""
    import gzip

    from loyalty_local.whatif import _lines_of_export

    export = tmp_path / "AWSDynamoDB" / "01700000000000-abcdef12"
    (export / "data").mkdir(parents=True)
    (export / "manifest-summary.json").write_text(json.dumps({"version": "2020-06-30", "itemCount": 3}))
    (export / "manifest-files.json").write_text(json.dumps({"itemCount": 3, "dataFileS3Key": "data/a.json.gz"}))
    records = _history()
    first = "".join(json.dumps(r) + "\n" for r in records[1:3])
    (export / "data" / "b.json.gz").write_bytes(gzip.compress((json.dumps(records[3]) + "\n\n").encode()))
    (export / "data" / "a.json.gz").write_bytes(gzip.compress(first.encode()))
    read = list(_lines_of_export(tmp_path))
    assert [json.loads(line) for line in read] == records[1:4]
    assert list(_lines_of_export(tmp_path)) == read
