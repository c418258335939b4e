"""The programme manager's lists before a message goes out (v1.2, docs/messages.md): who has points expiring at
the end of a month, and who will drop a tier at the next evaluation unless they add to it.

Neither is a scan. Expiring points: the sparse `expiry` index (EXPPK `EXP#<shard 00-15>`, EXPSK `<earliest
expiring month>#<member_id>`), its 16 shards walked in turn, each a Query of `EXPSK < <month + 1>` (the members
whose earliest expiring month is the month or before), then those members read (one BatchGetItem a page) and
kept when they hold points of the month. Tier drops: the tier evaluation's records of the month
(`TIERWARN#<month>#<shard>`, loyalty.store.tiers), 16 partitions walked in turn, their holders read for the name
and contact. A page holds at most `limit` rows and may hold fewer (a member of the index with nothing in the
month is passed over); `next_cursor` is null on the last page. Closed members are left out (no message goes to
one); suspended ones are listed with their status. Accounts' pools are not in the expiring list (a pool has no
contact of its own); an account's tier drop is listed with `account_id` and its name.

CSV: the same page as comma-separated values with a header line (`csv_page`), `next_cursor` in a header.
"""

from __future__ import annotations

import base64
import binascii
import csv
import io
import json
import re
from datetime import date
from typing import Any

from loyalty.answers.messages import DowngradeRow, ExpiringPoints, ExpiringRow, TierDowngrades
from loyalty.domain.model import Account, Member
from loyalty.kernel.errors import ValidationFailed
from loyalty.kernel.months import add_months
from loyalty.store import accounts as account_store
from loyalty.store import expiry as expiry_store
from loyalty.store import tiers as tier_store
from loyalty.store.codecs import EXPIRY_SHARDS, pool_of

KEY_NAMES = {"PK", "SK", "EXPPK", "EXPSK"}


def encode_cursor(month: str, shard: int, last: dict[str, Any] | None) -> str:
    plain = {"month": month, "shard": shard, "key": {k: v["S"] for k, v in (last or {}).items()}}
    return base64.urlsafe_b64encode(json.dumps(plain, separators=(",", ":")).encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None, month: str) -> tuple[int, dict[str, Any] | None]:
    """(shard, the Query's start key) of a cursor this list gave out for `month`; (0, None) without one."""
    if not cursor:
        return 0, None
    try:
        plain = json.loads(base64.urlsafe_b64decode((cursor + "=" * (-len(cursor) % 4)).encode()))
        shard, start = plain["shard"], plain["key"]
        if plain.get("month") != month or not isinstance(shard, int) or not 0 <= shard < EXPIRY_SHARDS:
            raise ValueError
        if not isinstance(start, dict) or not set(start) <= KEY_NAMES:
            raise ValueError
        if not all(isinstance(v, str) for v in start.values()):
            raise ValueError
    except (ValueError, KeyError, TypeError, binascii.Error, UnicodeDecodeError):
        raise ValidationFailed.field("cursor", "not a cursor this list gave out for this month") from None
    return shard, ({k: {"S": v} for k, v in start.items()} or None)


def _next(month: str, shard: int, last: dict[str, Any] | None) -> tuple[int, dict[str, Any] | None] | None:
    """Where the walk goes on after a Query of `shard` that stopped at `last` (None: the walk is over)."""
    if last:
        return shard, last
    return (shard + 1, None) if shard + 1 < EXPIRY_SHARDS else None


def _profile(member: Member) -> dict[str, Any]:
    return {"member_id": member.member_id, "name": member.name, "email": member.email, "phone": member.phone}


def expiring_points(month: str, limit: int, cursor: str | None) -> ExpiringPoints:
    """A page of the members with points that expire at the end of `month`, by shard, then earliest month."""
    shard, start = decode_cursor(cursor, month)
    rows: list[ExpiringRow] = []
    at: tuple[int, dict[str, Any] | None] | None = (shard, start)
    queries = 0
    while at is not None and len(rows) < limit and queries < EXPIRY_SHARDS * 2:
        ids, last = expiry_store.expiring_page(at[0], add_months(month, 1), limit - len(rows), at[1])
        queries += 1
        members, _, _ = account_store.load_holders(ids, [], []) if ids else ({}, {}, {})
        for member_id in ids:
            member = members.get(member_id)
            points = member.buckets.get(month, 0) if member is not None else 0
            if member is None or member.closed or points <= 0:
                continue
            rows.append(
                ExpiringRow(
                    **_profile(member),
                    status=member.status,
                    tier_id=member.tier_id,
                    points=points,
                    balance=member.available,
                )
            )
        at = _next(month, at[0], last)
    return ExpiringPoints(
        month=month, members=rows, next_cursor=encode_cursor(month, at[0], at[1]) if at is not None else None
    )


def tier_downgrades(month: str, limit: int, cursor: str | None) -> TierDowngrades:
    """A page of the members (and accounts) the evaluation of `month` warned: their tier drops at the next one
    (the 1st of the month after) unless they add `remaining`. The figures are the evaluation's."""
    shard, start = decode_cursor(cursor, month)
    rows: list[DowngradeRow] = []
    at: tuple[int, dict[str, Any] | None] | None = (shard, start)
    queries = 0
    while at is not None and len(rows) < limit and queries < EXPIRY_SHARDS * 2:
        warnings, last = tier_store.tier_warnings_page(month, at[0], limit - len(rows), at[1])
        queries += 1
        holders = [str(w["member_id"]) for w in warnings]
        member_ids = [h for h in holders if pool_of(h) is None]
        account_ids = [p for h in holders if (p := pool_of(h)) is not None]
        members, accounts, _ = account_store.load_holders(member_ids, account_ids, []) if holders else ({}, {}, {})
        for warning in warnings:
            pool = pool_of(str(warning["member_id"]))
            holder: Member | Account | None = accounts.get(pool) if pool else members.get(str(warning["member_id"]))
            if holder is None or holder.closed:
                continue
            who: dict[str, Any]
            if isinstance(holder, Account):
                who = {"account_id": holder.account_id, "name": holder.name, "status": "active"}
            else:
                assert isinstance(holder, Member)
                who = {**_profile(holder), "status": holder.status}
            rows.append(
                DowngradeRow(
                    **who,
                    tier_id=str(warning["tier_id"]),
                    threshold=int(warning["threshold"]),
                    qualifying_then=_number(warning["qualifying_then"]),
                    remaining=_number(warning["remaining"]),
                    evaluation_on=str(warning["evaluation_on"]),
                )
            )
        at = _next(month, at[0], last)
    following = add_months(month, 1)
    return TierDowngrades(
        month=month,
        evaluation_on=date(int(following[:4]), int(following[5:7]), 1).isoformat(),
        members=rows,
        next_cursor=encode_cursor(month, at[0], at[1]) if at is not None else None,
    )


def _number(value: Any) -> int | str:
    """A stored figure (a Decimal from the table): whole points as an int, an amount (measure `spend`) as text."""
    return int(value) if value == int(value) else str(value)


EXPIRING_COLUMNS = ("member_id", "name", "email", "phone", "status", "tier_id", "points", "balance")
DOWNGRADE_COLUMNS = (
    "member_id",
    "account_id",
    "name",
    "email",
    "phone",
    "status",
    "tier_id",
    "threshold",
    "qualifying_then",
    "remaining",
    "evaluation_on",
)


def csv_page(rows: list[Any], columns: tuple[str, ...]) -> str:
    """The rows as CSV (RFC 4180, CRLF line ends) with a header line; an empty field for a null. A text cell that
    a spreadsheet would read as a formula (`=`, `@`, a tab or carriage return first, or `+`/`-` not followed by a
    digit: a phone number stays as it is) is prefixed with `'`."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(columns)
    for row in rows:
        data = row.model_dump(mode="json")
        writer.writerow([_cell(data.get(c)) for c in columns])
    return out.getvalue()


# A cell a spreadsheet would not run as a formula though it starts with a sign: a number, a phone in E.164
_PLAIN_NUMBER = re.compile(r"[+-]?[0-9]+(\.[0-9]+)?")


def _cell(value: Any) -> str:
    """A CSV cell a spreadsheet shows as it is: free text (a name) that starts like a formula (`=`, `@`, `+`, `-`,
    a tab or a return) gets a leading `'`; a plain number or a phone (`+14155550123`) is left as it is."""
    if value is None:
        return ""
    text = str(value)
    if isinstance(value, str) and text[:1] in ("=", "@", "+", "-", "\t", "\r") and not _PLAIN_NUMBER.fullmatch(text):
        return "'" + text
    return text
