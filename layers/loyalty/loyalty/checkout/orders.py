"""Checkout quotes and orders: the member's books, the basket priced, one transaction for an order.

A quote and an order run the same plan on the member's `Books` (loyalty.ledger.funnel): a quote answers what
the plan decided and writes nothing (one read); an order commits it through `operations.run_with` (one
BatchGetItem of the member, the order's entry and the stock of stocked in-store rewards, then one
TransactWriteItems). The order's entries: a `redeem` entry per reward (`keys.checkout_reward`), one for
the points payment (`keys.checkout_points`), and the order's `earn` entry under `keys.earn(order_id)`,
the idempotency record (it holds the request's hash and the answer) and what `POST /v1/refunds` finds.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from decimal import Decimal
from typing import Any

from loyalty.accounts import pooling
from loyalty.answers.checkout import CheckoutOrder, CheckoutQuote
from loyalty.checkout import pricing
from loyalty.domain import keys, status
from loyalty.domain.model import Account, Holder, LedgerEntry, Member, identifier_value
from loyalty.domain.writes import IdentifierHeld, MembershipCounted, SideWrite, StockTaken
from loyalty.earning import credit
from loyalty.earning import rules as earning
from loyalty.kernel.clock import isoformat, utcnow
from loyalty.kernel.errors import (
    AccountNotFound,
    Forbidden,
    IdempotencyConflict,
    LoyaltyError,
    MemberNotFound,
    RewardNotFound,
    ValidationFailed,
)
from loyalty.ledger.funnel import Books, Ledger
from loyalty.ledger.operations import Outcome, Plan, replay, request_hash, run_with
from loyalty.program.rules import Program, Reward
from loyalty.redemption import rewards as reward_rules
from loyalty.requests.checkout import CheckoutOrderRequest, CheckoutQuoteRequest
from loyalty.store import accounts as account_store
from loyalty.store import checkout as store
from loyalty.store import identity as identity_store
from loyalty.store import members as member_store
from loyalty.tiers import views

QUOTE_ORDER_ID = "quote"  # a quote's plan builds the order's keys; nothing is written under them


def money(value: Decimal) -> str:
    """A decimal string with cents ("4.50", "0.00"), more places only when the amount has them."""
    at_cents = value.quantize(pricing.CENTS)
    return str(at_cents) if at_cents == value else str(value)


def _canonical(value: Decimal) -> str:
    return format(value.normalize(), "f")


# -- the request, checked before any read --------------------------------------------------------
def lines_of(program: Program, request: CheckoutQuoteRequest) -> tuple[earning.Item, ...]:
    if request.currency != program.currency:
        raise ValidationFailed.field("currency", f"the programme's currency is {program.currency}")
    return tuple(
        earning.Item(sku=i.sku, category=i.category, amount=Decimal(i.amount), quantity=i.quantity)
        for i in request.items
    )


def rewards_of(program: Program, request: CheckoutQuoteRequest) -> list[Reward]:
    """The in-store rewards asked for: unknown → 404; a partner reward or one listed twice → 422."""
    out: list[Reward] = []
    for i, reward_id in enumerate(request.rewards or []):
        reward = program.reward(reward_id)
        if reward is None:
            raise RewardNotFound(f"no reward {reward_id!r}")
        if not reward.in_store:
            raise ValidationFailed.field(f"rewards[{i}]", "a partner reward is redeemed through its partner")
        if any(r.id == reward.id for r in out):
            raise ValidationFailed.field(f"rewards[{i}]", "a reward is taken once per order")
        out.append(reward)
    return out


def checkout_hash(request: CheckoutQuoteRequest) -> str:
    payload: dict[str, Any] = {
        "member_id": request.member_id,
        # the kind of identifier, not its value: no personal field in a stored hash (erasure keeps the ledger)
        "lookup": request.lookup.identifier[0] if request.lookup else None,
        "currency": request.currency,
        "items": [
            {"sku": i.sku, "category": i.category, "amount": _canonical(Decimal(i.amount)), "quantity": i.quantity}
            for i in request.items
        ],
        "rewards": list(request.rewards or []),
        "points": request.points,
    }
    if request.account_id is not None:
        payload["account_id"] = request.account_id
    if request.occurred_at is not None:
        payload["occurred_at"] = isoformat(request.occurred_at)
    return request_hash(payload)


def lookup_digest(order_id: str, kind: str, value: str) -> str:
    """16 bits of a digest of the identifier an order was placed with (its compared form), salted by the order:
    enough to tell a retry with that identifier from another one (1 in 65,536 would pass for it, and only
    with this order id and basket), too few to recover a phone or an email from the ledger, even after
    erasure (a phone number shares its 16 bits with some 150,000 others)."""
    return hashlib.sha256(f"{order_id}\n{kind}\n{value}".encode()).hexdigest()[:4]


def _stocked(program: Program) -> list[str]:
    return [r.id for r in program.rewards if r.in_store and r.stock is not None]


def _loader(
    program: Program, request: CheckoutQuoteRequest, entry_key: str | None, *, consistent: bool = False
) -> Callable[[], tuple[Member | None, LedgerEntry | None, dict[str, int]]]:
    """The member (by id or by identifier), the order's entry and the stock: one round trip by id. By
    identifier, the first attempt reads the member from the identifier index (one round trip; the order's
    transaction re-checks that the member holds the identifier, and its entry condition finds a replay);
    a retry (or a `consistent` loader) asks the identifier item and reads consistently."""
    attempts = 1 if consistent else 0

    def load() -> tuple[Member | None, LedgerEntry | None, dict[str, int]]:
        nonlocal attempts
        attempts += 1
        if request.lookup is not None:
            kind, value = request.lookup.identifier
            found = identifier_value(kind, value)
            return store.load_by_lookup(kind, found, entry_key, _stocked(program), first=attempts == 1)
        assert request.member_id is not None  # the request model: exactly one of the two
        return store.load_for_checkout(request.member_id, entry_key, _stocked(program))

    return load


def _who(request: CheckoutQuoteRequest) -> str:
    return request.member_id or f"with that {request.lookup.identifier[0] if request.lookup else 'id'}"


# -- the plan a quote answers and an order commits ----------------------------------------------
def rewards_available(
    program: Program,
    member: Member,
    when: datetime,
    stock: dict[str, int],
    account: Account | None = None,
    paying: Holder | None = None,
) -> list[dict[str, Any]]:
    """The in-store rewards and whether the member may take them, counted before this basket (the tier of its
    `account` counts; `paying`: the pool that pays, whose points must cover it)."""
    out = []
    for reward in program.rewards:
        if not reward.in_store:
            continue
        left = reward_rules.remaining_stock(reward, stock.get(reward.id))
        better = pooling.better_tier(program, member.tier_id, account).id if account else None
        eligible, affordable = reward_rules.standing(reward, member, when, left, better)
        if paying is not None:
            affordable = eligible and paying.available >= reward.points
        out.append(
            {
                "reward_id": reward.id,
                "name": reward.name,
                "points": reward.points,
                "eligible": eligible,
                "affordable": affordable,
            }
        )
    return out


def _plan(
    program: Program,
    request: CheckoutQuoteRequest,
    lines: tuple[earning.Item, ...],
    rewards: list[Reward],
    order_id: str,
    *,
    placing: bool,
) -> Any:
    def plan(books: Books, stock: dict[str, int]) -> Plan:
        member = books.member
        if placing:
            status.ensure_active(member)  # a suspended member's basket is still quoted
        when = books.posting_time(request.occurred_at)
        account = pooling.account_of(member, {})  # a member in an account: its pool takes a part of the earn
        pool = pooling.pool_books(program, account, books.now, member.member_id) if account else None
        payer: Ledger[Any] = books  # who pays the points and the rewards: the member, or (v1.2) its account's pool
        if request.account_id is not None:
            if account is None or account.account_id != request.account_id:
                if account_store.load_account(request.account_id) is None:
                    raise AccountNotFound(f"no account {request.account_id!r}")
                raise Forbidden(f"member {member.member_id!r} may not spend account {request.account_id!r}'s points")
            pooling.ensure_spender(account, member)
            assert pool is not None
            payer = pool
        # the tier before this order, what it pays and earns at: the better of the member's and its account's
        tier = pooling.better_tier(program, member.tier_id, account)
        account_tier = tier.id if account else None  # the better tier decides which rewards it may take
        paying = payer.member if payer is not books else None
        available = rewards_available(program, member, when, stock, account, paying)
        for reward in rewards:
            left = reward_rules.remaining_stock(reward, stock.get(reward.id))
            reward_rules.check_reward(reward, member, when, left, account_tier)
        reward_points = sum(r.points for r in rewards)
        basket = pricing.price(
            program, tier, lines, rewards, request.points, when, payer.member.available - reward_points
        )

        writes: list[SideWrite] = []
        spent: dict[str, int] = {}
        entries: list[LedgerEntry] = []
        paid_by = {"member_id": member.member_id} if payer is not books else {}  # a pool's entry names its member
        for reward in rewards:
            consumed = payer.spend(reward.points)
            details: dict[str, Any] = {
                "kind": "checkout_reward",
                "order_id": order_id,
                "reward_id": reward.id,
                **paid_by,
            }
            counter = reward_rules.limit_counter(reward, when)
            if counter is not None and reward.limit_per_member is not None:
                books.count(counter, reward.limit_per_member.count)
                details["limit_counter"] = counter
            if reward.stock is not None:
                details["stock"] = True
                writes.append(StockTaken(reward.id, reward.stock))
            key = keys.checkout_reward(order_id, reward.id)
            entry = payer.entry(key, "redeem", -reward.points, order_id, when, details=details, buckets=consumed)
            entries.append(entry)
            _add(spent, consumed)
        payment = {"points": basket.points, "amount": money(basket.points_amount)}
        if basket.points:
            consumed = payer.spend(basket.points)
            details = {
                "kind": "checkout_points",
                "order_id": order_id,
                **payment,
                "currency": program.currency,
                **paid_by,
            }
            key = keys.checkout_points(order_id)
            entry = payer.entry(key, "redeem", -basket.points, order_id, when, details=details, buckets=consumed)
            entries.append(entry)
            _add(spent, consumed)
        writes_spent: list[SideWrite] = []
        if payer is not books and reward_points + basket.points and pool is not None:
            writes_spent.append(
                MembershipCounted(pool.account.account_id, member.member_id, spent=reward_points + basket.points)
            )

        order = earning.Order(amount=basket.total, occurred_at=when, items=basket.lines_after())
        award = earning.award(program, order, tier, eligible=basket.eligible)
        discounts = [{"rule": d.rule, "amount": money(d.amount), "sku": d.sku} for d in basket.discounts]
        details = {
            "amount": money(basket.total),  # the money paid: the refundable amount (at 0.00, the value: earn)
            "currency": program.currency,
            "items": [i.model_dump() for i in request.items],
            "checkout": {
                "subtotal": money(basket.subtotal),
                "discounts": discounts,
                "points_payment": payment,
                "rewards": [r.id for r in rewards],
                "spent": reward_points + basket.points,  # given back in proportion by refunds
                "buckets": spent,
                **({"paid_by_account": pool.account.account_id} if payer is not books and pool else {}),
            },
        }
        credited = credit.credit_order(program, books, order_id, award, when, details, pay_referral=placing, pool=pool)
        entries.append(credited.entry)
        body: dict[str, Any] = {
            "member_id": member.member_id,
            **({"order_id": order_id} if placing else {}),
            "tier": views.tier_view(member, program),
            "subtotal": money(basket.subtotal),
            "discounts": discounts,
            "discount_total": money(basket.discount_total),
            "points_payment": payment,
            "total": money(basket.total),
            "points": award.points,
            "breakdown": award.breakdown_view(),
            "balance": member.available,
            "rewards_available": available,
            "max_points_payable": basket.max_points_payable,
        }
        if placing:
            body["entry_ids"] = [e.entry_id for e in entries]
        if pool is not None:
            body["account"] = {
                "account_id": pool.account.account_id,
                "points": credited.pool_points,
                "balance": pool.account.available,
            }
        answer = CheckoutOrder.model_validate(body) if placing else CheckoutQuote.model_validate(body)
        return Plan(answer, [*credited.writes, *writes, *writes_spent], credited.others)

    return plan


def _add(into: dict[str, int], months: dict[str, int]) -> None:
    for month, points in months.items():
        into[month] = into.get(month, 0) + points


# -- the two routes ------------------------------------------------------------------------------
def quote(program: Program, request: CheckoutQuoteRequest) -> CheckoutQuote:
    """What the order would answer (without `order_id` and `entry_ids`), writing nothing: one read."""
    lines, rewards = lines_of(program, request), rewards_of(program, request)

    def answer(consistent: bool) -> CheckoutQuote:
        member, _, stock = _loader(program, request, None, consistent=consistent)()
        if member is None:
            raise MemberNotFound(f"no member {_who(request)!r}")
        status.ensure_open(member)  # a suspended member's basket is quoted; a closed member has none
        books = Books(program, member, utcnow())
        quoted = _plan(program, request, lines, rewards, QUOTE_ORDER_ID, placing=False)(books, stock).body
        assert isinstance(quoted, CheckoutQuote)
        return quoted

    try:
        return answer(consistent=False)
    except LoyaltyError:
        if request.lookup is None:
            raise
        return answer(consistent=True)  # the identifier index may be behind: the table's answer decides


def place_order(program: Program, request: CheckoutOrderRequest) -> Outcome:
    """Spend the rewards, take the points payment and earn on the money paid, in one transaction.
    Key: `order_id` (the order's earn entry): the same body replays, another body is a conflict."""
    lines, rewards = lines_of(program, request), rewards_of(program, request)
    entry_key = keys.earn(request.order_id)
    plan = _plan(program, request, lines, rewards, request.order_id, placing=True)
    if request.lookup is not None:
        kind, value = request.lookup.identifier
        found = identifier_value(kind, value)
        digest = lookup_digest(request.order_id, kind, found)

        def checked(books: Books, stock: dict[str, int]) -> Plan:
            decided = plan(books, stock)  # and the member must still hold the identifier when it commits
            for entry in books.entries:
                if entry.key == entry_key:  # the order's idempotency record
                    entry.lookup_digest = digest
            return replace(decided, writes=[*decided.writes, IdentifierHeld(kind, found, books.member.member_id)])

        hash_ = checkout_hash(request)

        def same_customer(outcome: Outcome) -> Outcome:
            """A replay answers the member the order charged, and no other customer. The stored hash holds the
            identifier's kind, not its value (no personal field is kept), so the member decides: the identifier
            leads to the charged member now (whatever it was then: a new phone), or it leads to no one and is
            the one the order was placed with (its digest: the customer changed it since). An identifier
            another member holds now, or one the order was not placed with, is another customer's."""
            if outcome.replayed and outcome.entry is not None:
                charged = outcome.entry.member_id
                holder = identity_store.find_member_consistently(kind, found)
                if holder is not None and holder.member_id == charged:
                    return outcome
                if holder is None and outcome.entry.lookup_digest == digest:
                    return outcome
                raise IdempotencyConflict("this order id was used for another customer")
            return outcome

        def attempt(consistent: bool) -> Outcome:
            loader = _loader(program, request, entry_key, consistent=consistent)
            return same_customer(run_with(program, loader, _who(request), entry_key, hash_, checked))

        try:
            return attempt(consistent=False)
        except IdempotencyConflict:
            raise
        except LoyaltyError:
            # the first attempt reads no entry and plans on the index's image of the member: a refusal may
            # be a replay's (its points are spent already) or the index's (behind the table): ask the table
            stored = member_store.load_entry(entry_key)
            if stored is not None:
                return same_customer(replay(stored, hash_, program))
            return attempt(consistent=True)
    return run_with(
        program, _loader(program, request, entry_key), _who(request), entry_key, checkout_hash(request), plan
    )
