"""Earn operations: purchases, previews, refunds and activities, each one idempotent `operations.run`.

The rules (what an order earns, what a refund takes back) live in `loyalty.earning.rules`; this module applies
them to a member and writes the result in one conditional transaction.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from loyalty.accounts import pooling
from loyalty.answers.common import PoolPart
from loyalty.answers.earning import ActivityAwarded, Earned, EarnPreview, Refunded
from loyalty.domain import keys, posting
from loyalty.domain.model import Account, LedgerEntry, Member, OrderRefunds
from loyalty.domain.status import ensure_active, ensure_open
from loyalty.domain.writes import MembershipCounted, PendingMarkerDone, RefundState, SideWrite, StockReturned
from loyalty.earning import credit
from loyalty.earning import rules as earning
from loyalty.kernel.clock import isoformat, utcnow
from loyalty.kernel.errors import (
    ActivityLimitReached,
    MemberNotFound,
    OrderNotFound,
    RefundExceedsOrder,
    ValidationFailed,
)
from loyalty.kernel.months import month_of
from loyalty.ledger.funnel import Books, Ledger, PoolBooks, Txn, activity_counter, open_books
from loyalty.ledger.operations import Outcome, Plan, commit, request_hash, retrying, run, run_with
from loyalty.program.rules import Program, Reward
from loyalty.store import accounts as account_store
from loyalty.store import members as member_store
from loyalty.store import orders as order_store
from loyalty.store.codecs import pool_of
from loyalty.tiers import views

if TYPE_CHECKING:  # annotations only: the checkout's cold start never loads the earn routes' models
    from loyalty.requests.earning import ActivityRequest, EarnRequest, RefundRequest


# -- request → domain ----------------------------------------------------------------------------
def occurred_at(value: datetime | None, now: datetime) -> datetime:
    """The request's `occurred_at` in UTC (default now), inside the posting window."""
    return now if value is None else posting.check(value, now)


def order_of(program: Program, request: EarnRequest, now: datetime) -> earning.Order:
    """The order as the rules engine sees it; refuses what the programme cannot earn on."""
    if request.currency != program.currency:
        raise ValidationFailed.field("currency", f"the programme's currency is {program.currency}")
    items = tuple(
        earning.Item(sku=i.sku, category=i.category, amount=Decimal(i.amount), quantity=i.quantity)
        for i in request.items or []
    )
    amount = Decimal(request.amount)
    if earning.items_total(items) > amount:
        raise ValidationFailed.field("items", "the items add up to more than the order amount")
    return earning.Order(amount=amount, occurred_at=occurred_at(request.occurred_at, now), items=items)


def _money(value: Decimal) -> str:
    """A canonical text for hashing: 120, 120.0 and 120.00 are the same amount."""
    return format(value.normalize(), "f")


def earn_hash(request: EarnRequest) -> str:
    payload: dict[str, Any] = {
        "member_id": request.member_id,
        "amount": _money(Decimal(request.amount)),
        "currency": request.currency,
        "channel": request.channel,
        "items": [
            {"sku": i.sku, "category": i.category, "amount": _money(Decimal(i.amount)), "quantity": i.quantity}
            for i in request.items or []
        ],
    }
    if request.occurred_at is not None:
        payload["occurred_at"] = isoformat(request.occurred_at)
    return request_hash(payload)


# -- purchases -----------------------------------------------------------------------------------
def _earn_plan(
    program: Program, request: EarnRequest, order: earning.Order, *, pay_referral: bool
) -> Callable[[Books, Account | None], Plan]:
    def plan(books: Books, account: Account | None) -> Plan:
        member = books.member
        ensure_active(member)
        when = books.posting_time(order.occurred_at)
        pool = pooling.pool_books(program, account, books.now, member.member_id) if account else None
        # the tier before this earn: the better of the member's and its account's
        award = earning.award(program, order, pooling.better_tier(program, member.tier_id, account))
        details: dict[str, Any] = {
            "amount": request.amount,
            "currency": request.currency,
            **({"channel": request.channel} if request.channel else {}),
            **({"items": _items_view(request)} if request.items else {}),
        }
        credited = credit.credit_order(
            program, books, request.order_id, award, when, details, pay_referral=pay_referral, pool=pool
        )
        body = Earned(
            entry_id=credited.entry.entry_id,
            member_id=member.member_id,
            order_id=request.order_id,
            points=award.points,
            breakdown=award.breakdown_view(),
            balance=member.available,
            tier=views.tier_view(member, program),
            **_pool_part(pool, credited.pool_points),
        )
        return Plan(body, credited.writes, credited.others)

    return plan


def _pool_part(pool: PoolBooks | None, points: int) -> dict[str, Any]:
    """The answer's `account` (v1.2): the pool's part and the pool's balance after the write; nothing when
    the member is in no account."""
    if pool is None:
        return {}
    part = PoolPart(account_id=pool.account.account_id, points=points, balance=pool.account.available)
    return {"account": part}


def _items_view(request: EarnRequest) -> list[dict[str, Any]]:
    """The order's lines as the ledger keeps them (what a replay of the history needs)."""
    return [
        {"sku": i.sku, "category": i.category, "amount": i.amount, "quantity": i.quantity} for i in request.items or []
    ]


def earn(program: Program, request: EarnRequest) -> Outcome:
    """Award an order's points. Key: the order id (one order earns once, for one member)."""
    order = order_of(program, request, utcnow())
    plan = _earn_plan(program, request, order, pay_referral=True)
    entry_key = keys.earn(request.order_id)
    return run_with(
        program,
        lambda: pooling.load(request.member_id, entry_key),
        request.member_id,
        entry_key,
        earn_hash(request),
        plan,
    )


def preview(program: Program, request: EarnRequest) -> EarnPreview:
    """What `earn` would answer, without `entry_id`, writing nothing (one read; two for a member in an account
    the process has not seen yet)."""
    order = order_of(program, request, utcnow())
    member, _, account = pooling.load(request.member_id, None)
    if member is None:
        raise MemberNotFound(f"no member {request.member_id!r}")
    decided = _earn_plan(program, request, order, pay_referral=False)(Books(program, member, utcnow()), account)
    return EarnPreview.model_validate(decided.body.model_dump(exclude={"entry_id"}, exclude_unset=True))


# -- refunds -------------------------------------------------------------------------------------
def refund(program: Program, request: RefundRequest) -> Outcome:
    """Take back the share of an order's points that the refunds so far cover (cumulative, floored)."""
    entry_key = keys.refund(request.refund_id)
    amount = Decimal(request.amount)
    hash_ = request_hash({"member_id": request.member_id, "order_id": request.order_id, "amount": _money(amount)})

    def plan(books: Books, context: RefundContext) -> Plan:
        member = books.member
        ensure_open(member)  # a suspended member is still refunded; a closed one is not
        order, state, spends, account = context
        if order is None or order.type != "earn" or order.member_id != member.member_id:
            raise OrderNotFound(f"no order {request.order_id!r} for member {member.member_id!r}")
        state = state or OrderRefunds(order_id=request.order_id, member_id=member.member_id)
        details = order.details
        refundable = refundable_amount(details)
        taken = earning.reversal(
            order_amount=refundable,
            order_points=order.points,
            order_base=int(details.get("base", 0)),
            order_eligible=Decimal(str(details.get("eligible_amount", details["amount"]))),
            refunded_before=state.refunded,
            points_before=state.points,
            base_before=state.base,
            spend_before=state.spend,
            refund_amount=amount,
        )
        if taken is None:
            left = refundable - state.refunded
            raise RefundExceedsOrder(f"order {request.order_id!r} has {left} left to refund")
        month = month_of(order.occurred_at)
        writes: list[SideWrite] = []
        from_pending = books.take_back_pending(request.order_id, taken.points)  # never spendable: first
        if from_pending and request.order_id not in member.pending_lots:
            writes.append(PendingMarkerDone(member.member_id, request.order_id))
        moved = books.take_back(taken.points - from_pending, prefer=books.expiry_month(order.occurred_at))
        if taken.base and month in member.qualifying:
            member.qualifying[month] = max(0, member.qualifying[month] - taken.base)
        if taken.spend and month in member.spend:
            member.spend[month] = max(Decimal(0), member.spend[month] - taken.spend)
        entry = books.entry(
            entry_key,
            "reversal",
            -taken.points,
            request.refund_id,
            books.now,
            details={
                "order_id": request.order_id,
                "amount": request.amount,
                "refunded_total": str(taken.refunded_total),
                "base": -taken.base,
            },
            buckets=moved,
        )
        # the order's split stays as it was made: the pool gives back its part, whether or not the member
        # still belongs to the account
        pool = pooling.pool_books(program, account, books.now, member.member_id) if account else None
        # what the order spent goes back to who paid it: the member, or (v1.2) the account's pool
        paid_by_pool = pool is not None and bool((details.get("checkout") or {}).get("paid_by_account"))
        payer: Ledger[Any] = pool if paid_by_pool and pool is not None else books
        restored, months = _give_back_spent(payer, request, details, refundable, state, taken.refunded_total)
        if paid_by_pool and restored and account is not None:
            writes.append(MembershipCounted(account.account_id, member.member_id, spent=-restored))
        if "checkout" in details:
            writes += _give_back_uses(books, order, spends, refundable, state.refunded, taken.refunded_total)
        pool_share = 0
        pool_part: dict[str, Any] = {}
        if pool is not None:
            pooled = int(details.get("account_points", 0))
            pool_share = earning.reversed_share(pooled, taken.refunded_total, refundable) - state.account_points
            reversal = pooling.reverse(
                pool,
                member.member_id,
                request.refund_id,
                order,
                pool_share,
                taken.base,
                taken.spend,
                {"order_id": request.order_id, "amount": request.amount, "refunded_total": str(taken.refunded_total)},
            )
            writes += reversal.writes
            # the pool's whole change: its part taken back, and what it paid given back (a pool-paid order)
            pool_change = sum(e.points for e in pool.entries)
            pool_part = _pool_part(pool, pool_change)
            # the member's reversal says the pool's side too (PointsReversed carries it: one event per refund)
            entry.details.update({"account_id": pool.account.account_id, "account_points": pool_change})
        after = state.model_copy(
            update={
                "refunded": taken.refunded_total,
                "points": state.points + taken.points,
                "base": state.base + taken.base,
                "spend": state.spend + taken.spend,
                "restored": state.restored + restored,
                "restored_months": months,
                "account_points": state.account_points + pool_share,
                "refunds": state.refunds + 1,
                "version": state.version + 1,
            }
        )
        if "checkout" in details:  # a checkout order's refund says what it took back and what it gave back
            body = Refunded(
                refund_id=request.refund_id,
                order_id=request.order_id,
                # the net change: with what expired at once, and the pool's (its part, what it paid back)
                points=sum(e.points for e in books.entries) + (sum(e.points for e in pool.entries) if pool else 0),
                reversed=entry.points - pool_share,
                restored=restored,
                balance=member.available,
                **pool_part,
            )
        else:
            body = Refunded(
                refund_id=request.refund_id,
                order_id=request.order_id,
                points=entry.points - pool_share,  # the order's whole change: the member's and the pool's
                balance=member.available,
                **pool_part,
            )
        return Plan(body, [RefundState(after, state.version), *writes], [pool] if pool is not None else [])

    # the reward entries a checkout order may have written that took stock or a limit use: read with the order
    spends = [keys.checkout_reward(request.order_id, r.id) for r in program.rewards if _returnable(r)]

    def load() -> tuple[Member | None, LedgerEntry | None, RefundContext]:
        member, entry, (order, state, spent) = order_store.load_refund(
            request.member_id, request.refund_id, request.order_id, spends
        )
        pooled = order.details.get("account_id") if entry is None and order is not None else None
        account = account_store.load_account(str(pooled)) if pooled else None  # a pooled order: one more read
        return member, entry, (order, state, spent, account)

    return run_with(program, load, request.member_id, entry_key, hash_, plan)


RefundContext = tuple[LedgerEntry | None, OrderRefunds | None, list[LedgerEntry], Account | None]


def refundable_amount(details: dict[str, Any]) -> Decimal:
    """What the refunds of an order may add up to, from its earn entry's details.

    An order's `amount`; for a checkout order its `total`, the money paid (the contract). A checkout order
    that took no money (`total` 0.00: paid entirely with points and rewards) is refunded by its value
    instead: `subtotal − the price discounts` (the tier's and campaigns'; a reward's discount is paid for
    with points, so it counts as paid), so that a return of goods paid with points gives the points back."""
    amount = Decimal(str(details["amount"]))
    checkout = details.get("checkout")
    if amount > 0 or not checkout:
        return amount
    price_discounts = sum(
        (Decimal(str(d["amount"])) for d in checkout.get("discounts", []) if not str(d["rule"]).startswith("reward:")),
        Decimal(0),
    )
    return max(Decimal(0), Decimal(str(checkout["subtotal"])) - price_discounts)


def _give_back_spent(
    books: Ledger[Any],
    request: RefundRequest,
    details: dict[str, Any],
    refundable: Decimal,
    state: OrderRefunds,
    refunded_total: Decimal,
) -> tuple[int, dict[str, int]]:
    """A checkout order's refund gives back `floor(points spent × refunded / refundable)` of the points the
    order spent (rewards and points payment), cumulative, less what earlier refunds gave back, into the
    months they were spent from (latest first; a month that is over expires them at once: the funnel).
    Answers the points given back now and the months given back so far."""
    checkout = details.get("checkout")
    if not checkout:
        return 0, dict(state.restored_months)
    spent = int(checkout.get("spent", 0))
    share = earning.reversed_share(spent, refunded_total, refundable)
    now = max(0, share - state.restored)
    months = dict(state.restored_months)
    if not now:
        return 0, months
    taken: dict[str, int] = {}
    left = now
    for month, points in sorted(((str(m), int(p)) for m, p in checkout.get("buckets", {}).items()), reverse=True):
        give = min(left, points - months.get(month, 0))
        if give > 0:
            taken[month] = give
            months[month] = months.get(month, 0) + give
            left -= give
    restored = books.give_back(now, taken)  # points no month accounts for (a debt at spend time) are new
    books.entry(
        keys.refund_restore(request.refund_id),
        "redeem_cancel",
        now,
        request.refund_id,
        books.now,
        details={
            "kind": "checkout_refund",
            "order_id": request.order_id,
            "refund_id": request.refund_id,
            **({"member_id": request.member_id} if isinstance(books, PoolBooks) else {}),
        },
        buckets=restored,
    )
    return now, months


def _returnable(reward: Reward) -> bool:
    """An in-store reward whose use a refund may give back: it has a stock or a per-member limit."""
    return reward.in_store and (reward.stock is not None or reward.limit_per_member is not None)


def _give_back_uses(
    books: Books,
    order: LedgerEntry,
    spends: list[LedgerEntry],
    refundable: Decimal,
    refunded_before: Decimal,
    refunded_total: Decimal,
) -> list[SideWrite]:
    """A checkout order's rewards back in the refund's proportion, as a partner cancel gives them back: each
    reward is one unit, `floor(1 × refunded / refundable)` of it, cumulative, so the refund that completes
    the order gives back its stock and its per-member limit use (once: no refund follows the whole)."""
    if earning.reversed_share(1, refunded_total, refundable) <= earning.reversed_share(1, refunded_before, refundable):
        return []
    writes: list[SideWrite] = []
    for spend in spends:
        if spend.member_id != order.member_id or spend.type != "redeem":  # pragma: no cover - keys are the order's
            continue
        counter = spend.details.get("limit_counter")
        if counter:
            books.uncount(str(counter))
        reward_id = spend.details.get("reward_id")
        if spend.details.get("stock") and reward_id:
            writes.append(StockReturned(str(reward_id)))
    return writes


# -- activities ----------------------------------------------------------------------------------
def record_activity(program: Program, request: ActivityRequest) -> Outcome:
    """A non-purchase activity (review, birthday, ...): its points, within its cap; never qualifying."""
    activity = program.activities.types.get(request.type)
    if activity is None:
        known = ", ".join(sorted(program.activities.types)) or "none"
        raise ValidationFailed.field("type", f"not an activity of the programme (known: {known})")
    entry_key = keys.activity(request.member_id, request.activity_id)
    payload: dict[str, Any] = {"member_id": request.member_id, "type": request.type}
    if request.occurred_at is not None:
        payload["occurred_at"] = isoformat(request.occurred_at)

    def plan(books: Books) -> Plan:
        ensure_active(books.member)
        dated = books.posting_time(request.occurred_at)  # the posting window, checked once, in the funnel
        if activity.cap is not None:
            counter = activity_counter(request.type, activity.cap.period, dated)
            if not books.count(counter, activity.cap.count):
                raise ActivityLimitReached(f"{request.type}: at most {activity.cap.count} per {activity.cap.period}")
        moved = books.grant(activity.points, dated)
        entry = books.entry(
            entry_key,
            "bonus",
            activity.points,
            request.activity_id,
            dated,
            details={"activity": request.type},
            buckets=moved,
        )
        return Plan(ActivityAwarded(entry_id=entry.entry_id, points=activity.points, balance=books.member.available))

    return run(program, request.member_id, entry_key, request_hash(payload), plan)


# -- pending points ------------------------------------------------------------------------------
def activate_pending(program: Program, member_id: str, as_of: date) -> int:
    """Move the member's (or a pool's, `ACCOUNT#<account_id>`) pending lots due by `as_of` into available points.
    Returns the points moved.

    Not a ledger entry: the ledger already holds the earn; only its availability changes. Running it
    again moves nothing (the lots are gone from the member, their markers deleted in the same write).
    A lot whose expiry month is already over when it activates is expired at once (funnel).
    """

    pool = pool_of(member_id)

    def attempt() -> int:
        holder = account_store.load_account(pool) if pool else member_store.load_member(member_id)
        if holder is None:
            return 0
        due = {order_id: lot for order_id, lot in holder.pending_lots.items() if lot.available_on <= as_of}
        if not due:
            return 0
        books = open_books(program, holder, utcnow())
        moved = 0
        for order_id, _ in sorted(due.items(), key=lambda kv: (kv[1].available_on, kv[0])):
            moved += books.activate(order_id)
        markers: list[SideWrite] = [PendingMarkerDone(member_id, order_id) for order_id in due]
        commit(Txn([books], markers))
        return moved

    return retrying(attempt)


def activate_due_pending(program: Program, as_of: date) -> dict[str, int]:
    """The daily job: every member with pending points due by `as_of`."""
    activated = points = 0
    for member_id in order_store.members_with_due_pending(as_of):
        moved = activate_pending(program, member_id, as_of)
        if moved:
            activated += 1
            points += moved
    return {"members_activated": activated, "points_activated": points}
