"""Redemptions: partner rewards, pay with points (and its holds), cancellations, the reward catalogue.

Every redemption spends the points that expire soonest first (`ledger.debit`) and records the months
it took on its ledger entry, so a cancellation or a void (`ledger.restore`) puts them back where they
came from. Each write is one `operations.run_with`: one read round trip, one conditional transaction.

Idempotency keys: `loyalty.domain.keys` (partner redemptions and pay with points have prefixes of their own,
so no partner id can reach a checkout's redemption).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from loyalty.accounts import pooling
from loyalty.answers.redemption import HoldReleased, PartnerCancellation, PartnerRedemption, PointsPayment
from loyalty.domain import keys
from loyalty.domain.model import Account, Hold, LedgerEntry, Member
from loyalty.domain.status import ensure_active, ensure_open
from loyalty.domain.writes import HoldOpened, HoldSettled, MembershipCounted, SideWrite, StockReturned, StockTaken
from loyalty.kernel.clock import CLOCK, isoformat, utcnow
from loyalty.kernel.errors import (
    AccountNotFound,
    Forbidden,
    InvalidSignature,
    InvalidState,
    MemberInactive,
    MemberNotFound,
    RedemptionNotFound,
    RewardNotFound,
    ValidationFailed,
)
from loyalty.kernel.observability import count, logger
from loyalty.ledger.funnel import Books, Ledger, Txn
from loyalty.ledger.operations import Outcome, Plan, commit, request_hash, retrying, run_with
from loyalty.program.rules import Program
from loyalty.redemption import signatures
from loyalty.redemption.rewards import check_redeemable, limit_counter, remaining_stock, standing
from loyalty.store import accounts as account_store
from loyalty.store import members as member_store
from loyalty.store import redemptions as store
from loyalty.store import secrets as secret_store

CENTS = Decimal("0.01")


def catalogue(program: Program, member_id: str | None) -> dict[str, Any]:
    """Every reward, whether `member_id` may take it now (tier, window, stock, limit), whether the
    member's available points cover it, and what is left of its stock (None: unlimited)."""
    stocked = [r.id for r in program.rewards if r.stock is not None]
    member, stock = store.load_member_and_stock(member_id, stocked)
    if member_id is not None and member is None:
        raise MemberNotFound(f"no member {member_id!r}")
    now = utcnow()
    account = pooling.account_of(member, {})  # a member in an account: its tier counts too (one more read)
    better = pooling.better_tier(program, member.tier_id, account).id if member is not None and account else None
    rewards = []
    for reward in program.rewards:
        left = remaining_stock(reward, stock.get(reward.id))
        eligible, affordable = standing(reward, member, now, left, better)
        rewards.append(
            {
                "reward_id": reward.id,
                "name": reward.name,
                "points": reward.points,
                "partner_id": reward.partner_id,
                "eligible": eligible,
                "affordable": affordable,
                "stock": left,
            }
        )
    return {"rewards": rewards}


# -- partner authentication ----------------------------------------------------------------------
def authenticate_partner(program: Program, partner_id: str | None, header: str | None, body: bytes) -> None:
    """Check the partner's `Loyalty-Signature` over the raw body; raise InvalidSignature (401).

    Failures are logged (without the secret or the signature) and counted (metric SignatureFailures).
    """
    partner = program.partner(partner_id) if partner_id else None

    def secrets() -> Sequence[str]:
        if partner is None:
            raise signatures.SignatureError("unknown_partner")
        try:
            return secret_store.partner_secrets(partner.secret_id)
        except secret_store.SecretMissing:
            raise signatures.SignatureError("no_secret") from None

    try:
        signatures.verify(header, body, secrets, CLOCK.unix_seconds_candidates())
    except signatures.SignatureError as exc:
        logger.warning(
            "partner signature refused", extra={"partner_id": (partner_id or "")[:128], "reason": exc.reason}
        )
        count("SignatureFailures", program_id=program.program_id)
        raise InvalidSignature("the Loyalty-Signature header is missing, malformed, wrong or not fresh") from None


# -- partner redemptions -------------------------------------------------------------------------
def partner_redeem(
    program: Program,
    partner_id: str,
    redemption_id: str,
    member_id: str,
    reward_id: str,
    occurred_at: datetime | None = None,
) -> Outcome:
    """Redeem a partner's reward: debit the points and the stock in one transaction."""
    entry_key = keys.partner_redemption(partner_id, redemption_id)
    hash_ = request_hash(
        {
            "member_id": member_id,
            "reward_id": reward_id,
            "occurred_at": isoformat(occurred_at) if occurred_at else None,
        }
    )
    reward = program.reward(reward_id)
    stocked = reward.id if reward is not None and reward.stock is not None else None

    def load() -> tuple[Member | None, LedgerEntry | None, int | None]:
        return store.load_for_redemption(member_id, entry_key, stocked)

    def plan(books: Books, stored_stock: int | None) -> Plan:
        member = books.member
        if reward is None:
            raise RewardNotFound(f"no reward {reward_id!r}")
        if reward.partner_id != partner_id:
            raise Forbidden(f"reward {reward_id!r} belongs to another partner")
        dated = books.posting_time(occurred_at)  # the posting window, checked once, in the funnel
        left = remaining_stock(reward, stored_stock)
        account = pooling.account_of(member, {})  # its tier counts; the points are still the member's own
        better = pooling.better_tier(program, member.tier_id, account).id if account else None
        check_redeemable(reward, member, dated, left, better)
        consumed = books.spend(reward.points)
        counter = limit_counter(reward, dated)
        if counter is not None and reward.limit_per_member is not None:
            books.count(counter, reward.limit_per_member.count)
        details: dict[str, Any] = {"partner_id": partner_id, "reward_id": reward.id, "redemption_id": redemption_id}
        if reward.stock is not None:
            details["stock"] = True
        if counter is not None:
            details["limit_counter"] = counter
        books.entry(entry_key, "redeem", -reward.points, redemption_id, dated, details=details, buckets=consumed)
        body = PartnerRedemption(
            redemption_id=redemption_id,
            member_id=member.member_id,
            reward_id=reward.id,
            points=reward.points,
            balance=member.available,
            status="completed",
        )
        writes: list[SideWrite] = [StockTaken(reward.id, reward.stock)] if reward.stock is not None else []
        return Plan(body, writes)

    return run_with(program, load, member_id, entry_key, hash_, plan)


def partner_cancel(program: Program, partner_id: str, redemption_id: str) -> Outcome:
    """Cancel a partner redemption: points back to their months (expired at once where the month is
    over), stock back. Answers 200, repeatable."""
    redeem_key = keys.partner_redemption(partner_id, redemption_id)
    original = member_store.load_entry(redeem_key)  # another partner's ids are not under this key
    if original is None or original.type != "redeem":
        raise RedemptionNotFound(f"no redemption {redemption_id!r}")
    cancel_key = keys.partner_cancel(partner_id, redemption_id)
    hash_ = request_hash({"cancel": redeem_key})

    def load() -> tuple[Member | None, LedgerEntry | None, None]:
        member, entry = member_store.load_member_and_entry(original.member_id, cancel_key)
        return member, entry, None

    def plan(books: Books, _: None) -> Plan:
        points = -original.points
        restored = books.give_back(points, original.buckets)
        counter = original.details.get("limit_counter")
        if counter:
            books.uncount(str(counter))
        books.entry(
            cancel_key,
            "redeem_cancel",
            points,
            redemption_id,
            books.now,
            details={
                "partner_id": partner_id,
                "reward_id": original.details.get("reward_id"),
                "redemption_id": redemption_id,
            },
            buckets=restored,
        )
        body = PartnerCancellation(
            redemption_id=redemption_id, status="cancelled", points=points, balance=books.member.available
        )
        reward_id = original.details.get("reward_id")
        writes: list[SideWrite] = [StockReturned(reward_id)] if original.details.get("stock") and reward_id else []
        return Plan(body, writes)

    outcome = run_with(program, load, original.member_id, cancel_key, hash_, plan)
    return dataclasses.replace(outcome, status=200)


# -- pay with points -----------------------------------------------------------------------------
def pwp_value(program: Program, points: int) -> Decimal:
    rate = program.pay_with_points
    return (Decimal(points) * rate.value / rate.points).quantize(CENTS)


def pwp_view(
    redemption_id: str, points: int, value: Decimal, currency: str, status: str, balance: int
) -> PointsPayment:
    return PointsPayment.model_validate(
        {
            "redemption_id": redemption_id,
            "points": points,
            "value": {"amount": str(value), "currency": currency},
            "status": status,
            "balance": balance,
        }
    )


def pay_with_points(
    program: Program,
    redemption_id: str,
    member_id: str,
    points: int,
    capture: bool = True,
    account_id: str | None = None,
) -> Outcome:
    """Pay at checkout with points: completed at once, or held (debited, reserved) until captured. With
    `account_id` (v1.2), the points come from that account's pool: only its owners and buyers may."""
    rate = program.pay_with_points
    if points <= 0 or points % rate.points:
        raise ValidationFailed.field("points", f"must be a positive multiple of {rate.points}")
    value = pwp_value(program, points)
    entry_key = keys.pay_with_points(redemption_id)
    payload: dict[str, Any] = {"member_id": member_id, "points": points, "capture": capture}
    if account_id is not None:
        payload["account_id"] = account_id
    hash_ = request_hash(payload)

    def load() -> tuple[Member | None, LedgerEntry | None, Account | None]:
        if account_id is None:
            member, entry = member_store.load_member_and_entry(member_id, entry_key)
            return member, entry, None
        members, accounts, entries = account_store.load_holders([member_id], [account_id], [entry_key])
        if entry_key not in entries and account_id not in accounts:
            raise AccountNotFound(f"no account {account_id!r}")
        return members.get(member_id), entries.get(entry_key), accounts.get(account_id)

    def plan(books: Books, account: Account | None) -> Plan:
        member = books.member
        ensure_active(member)
        payer: Ledger[Any] = books
        writes: list[SideWrite] = []
        if account is not None:
            pooling.ensure_spender(account, member)
            payer = pooling.pool_books(program, account, books.now, member.member_id)
            writes.append(MembershipCounted(account.account_id, member.member_id, spent=points))
        consumed = payer.spend(points)
        status = "completed" if capture else "held"
        if not capture:
            payer.member.held += points
            hold = Hold(
                redemption_id=redemption_id,
                member_id=member.member_id,
                account_id=account.account_id if account is not None else None,
                points=points,
                value=value,
                currency=program.currency,
                created_at=books.now,
                expires_at=books.now + timedelta(minutes=rate.hold_minutes),
            )
            writes.append(HoldOpened(hold))
        details = {
            "kind": "pay_with_points",
            "redemption_id": redemption_id,
            "status": status,
            "value": str(value),
            "currency": program.currency,
            **({"member_id": member.member_id} if account is not None else {}),
        }
        payer.entry(entry_key, "redeem", -points, redemption_id, books.now, details=details, buckets=consumed)
        body = pwp_view(redemption_id, points, value, program.currency, status, payer.member.available)
        return Plan(body, writes, [payer] if account is not None else [])

    return run_with(program, load, member_id, entry_key, hash_, plan)


def _payer(program: Program, hold: Hold, member: Member, books: Books | None = None) -> Ledger[Any]:
    """The books a hold's points came from: the member's (`books`, or opened now), or its account's pool."""
    if hold.account_id is None:
        return books if books is not None else Books(program, member, utcnow())
    account = account_store.load_account(hold.account_id)
    if account is None:  # pragma: no cover - accounts are never deleted
        raise RedemptionNotFound(f"the account of redemption {hold.redemption_id!r} is gone")
    return pooling.pool_books(program, account, books.now if books else utcnow(), hold.member_id)


def _not_a_hold(redemption_id: str) -> LedgerEntry:
    """The pay-with-points entry of a redemption that was never held; 404 if there is none."""
    entry = member_store.load_entry(keys.pay_with_points(redemption_id))
    if entry is None:
        raise RedemptionNotFound(f"no redemption {redemption_id!r}")
    return entry


def capture(program: Program, redemption_id: str) -> Outcome:
    """Complete a held redemption (200). Idempotent on the redemption id as every write is: a repeat answers
    the first capture's bytes again, replayed (its answer is kept with the hold); a payment completed at once
    (`capture: true`) answers its payment's first answer, replayed. A voided, released or expired hold cannot
    be captured (409 invalid_state)."""

    def replayed(text: str) -> Outcome:
        count("IdempotentReplays", program_id=program.program_id)
        return Outcome(200, text, replayed=True)

    def attempt() -> Outcome:
        hold = store.load_hold(redemption_id)
        if hold is None:
            entry = _not_a_hold(redemption_id)  # captured when it was made
            return replayed(PointsPayment.model_validate_json(entry.response or "{}").body())
        if hold.status in ("voided", "released"):
            raise InvalidState(f"redemption {redemption_id!r} was {hold.status}; it cannot be captured")
        if hold.status == "captured" and hold.response is not None:
            return replayed(hold.response)
        member = member_store.load_member(hold.member_id)
        if member is None:  # pragma: no cover - members are never deleted
            raise MemberNotFound(f"no member {hold.member_id!r}")
        payer = _payer(program, hold, member)
        view = pwp_view(redemption_id, hold.points, hold.value, hold.currency, "completed", payer.member.available)
        if hold.status == "captured":  # captured before holds kept their answer: answered as it was then
            return Outcome(200, view.body())
        ensure_open(member)
        if payer.now >= hold.expires_at:
            raise InvalidState(f"the hold on redemption {redemption_id!r} expired at {isoformat(hold.expires_at)}")
        payer.member.held -= hold.points
        answer = view.body()
        commit(Txn([payer], [HoldSettled(redemption_id, "captured", payer.now, answer)]))
        return Outcome(200, answer)

    return retrying(attempt)


def void(program: Program, redemption_id: str, *, reason: str = "voided") -> Outcome:
    """Release a hold: its points go back to the months they came from (`redeem_cancel` entry; months
    that are over by now take them only to expire them at once).

    Answers 200, repeatable; the hold-release job uses it with reason `released` (the same entry key,
    so a void and a release never both happen). A captured or completed redemption cannot be voided.
    """
    hold = store.load_hold(redemption_id)
    if hold is None:
        _not_a_hold(redemption_id)
        raise InvalidState(f"redemption {redemption_id!r} is completed; it cannot be voided")
    redeem_key = keys.pay_with_points(redemption_id)
    cancel_key = keys.pay_with_points_cancel(redemption_id)
    hash_ = request_hash({"release": redeem_key})

    def load() -> tuple[Member | None, LedgerEntry | None, tuple[LedgerEntry | None, Hold | None]]:
        return store.load_for_release(hold.member_id, cancel_key, redeem_key, redemption_id)

    def plan(books: Books, found: tuple[LedgerEntry | None, Hold | None]) -> Plan:
        original, current = found
        if original is None or current is None:  # pragma: no cover - written together, never deleted
            raise RedemptionNotFound(f"no redemption {redemption_id!r}")
        if current.status != "held":
            raise InvalidState(f"redemption {redemption_id!r} was {current.status}; it cannot be voided")
        if reason == "released" and books.now < current.expires_at:
            raise InvalidState(f"the hold on redemption {redemption_id!r} has not expired")
        payer = _payer(program, current, books.member, books)  # a pool's hold goes back to the pool
        restored = payer.give_back(current.points, original.buckets)
        payer.member.held -= current.points
        details: dict[str, Any] = {"kind": "pay_with_points", "redemption_id": redemption_id, "status": reason}
        writes: list[SideWrite] = [HoldSettled(redemption_id, reason, books.now)]
        if current.account_id is not None:
            details["member_id"] = current.member_id
            writes.append(MembershipCounted(current.account_id, current.member_id, spent=-current.points))
        payer.entry(
            cancel_key, "redeem_cancel", current.points, redemption_id, books.now, details=details, buckets=restored
        )
        body = HoldReleased.model_validate(
            {
                "redemption_id": redemption_id,
                "status": reason,
                "points": current.points,
                "balance": payer.member.available,
            }
        )
        return Plan(body, writes, [payer] if payer is not books else [])

    outcome = run_with(program, load, hold.member_id, cancel_key, hash_, plan)
    return dataclasses.replace(outcome, status=200)


def _release_forfeited(program: Program, redemption_id: str) -> int:
    """Release the hold of a closed member: no points go back (the account's points were forfeited at
    closing and its ledger takes no more lines); the hold is settled and `held` drops. 1 if released."""

    def attempt() -> int:
        hold = store.load_hold(redemption_id)
        member = member_store.load_member(hold.member_id) if hold is not None else None
        if hold is None or member is None or hold.status != "held":
            return 0
        if hold.account_id is not None:  # a pool's points are not the closed member's: they go back
            return 1 if void(program, redemption_id, reason="released").status == 200 else 0
        books = Books(program, member, utcnow())
        member.held -= hold.points
        commit(Txn([books], [HoldSettled(redemption_id, "released", books.now)]))
        return 1

    return retrying(attempt)


def release_expired_holds(program: Program, now: datetime | None = None) -> dict[str, Any]:
    """The hold-release job: release every open hold whose time is up. Rerunning changes nothing."""
    now = now or utcnow()
    released = 0
    for redemption_id in list(store.due_holds(now)):
        try:
            outcome = void(program, redemption_id, reason="released")
        except MemberInactive:  # the member was closed: its points were forfeited, the hold goes with them
            released += _release_forfeited(program, redemption_id)
            continue
        except (InvalidState, RedemptionNotFound) as exc:  # captured or voided meanwhile
            logger.info("hold not released", extra={"redemption_id": redemption_id, "reason": str(exc)})
            continue
        if not outcome.replayed:
            released += 1
    return {"job": "hold-release", "as_of": isoformat(now), "released": released}


__all__ = [
    "authenticate_partner",
    "capture",
    "catalogue",
    "partner_cancel",
    "partner_redeem",
    "pay_with_points",
    "release_expired_holds",
    "void",
]
