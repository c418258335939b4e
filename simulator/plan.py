"""Who does what, when: the synthetic year, drawn up front from one seeded random generator.

Pure (no HTTP, no clock): the same programme, size and seed give the same plan. Decisions that depend on
the member's balance at the time (which reward, how many points to pay with) carry a pre-drawn number
and are settled when the action runs.

Each month has four steps (the 3rd, 10th, 17th and 24th at noon UTC); a member's actions in a step run
in order, members in parallel. Personas set how much and how often a member buys; the spend is scaled
to the programme (a regular member's yearly spend is about what the first tier above the base needs),
so that tiers, rewards and expiry all see traffic whatever the programme's numbers are.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Literal

from loyalty.kernel.months import add_months
from loyalty.program.rules import Program, Reward

STEP_DAYS = (3, 10, 17, 24)
CHANNELS = (("web", 0.5), ("app", 0.3), ("pos", 0.2))
REFUND_RATE = 0.06
REFERRAL_RATE = 0.15
SUBSCRIBE_RATE = 0.2  # members who buy the paid tier, when the programme has one
PAY_WITH_POINTS_RATE = 0.08  # per member and month
CANCEL_RATE = 0.05  # partner redemptions cancelled afterwards
GENERAL = "general"


@dataclass(frozen=True)
class Persona:
    name: str
    share: float  # of the members
    spend: float  # yearly spend, in multiples of the programme's scale
    orders: float  # orders per month (Poisson mean)
    churn: float  # chance of stopping at some month of the year
    redeem: float  # chance per month of trying a partner reward
    engagement: float  # activities (reviews ...) per month


PERSONAS = (
    Persona("heavy", 0.10, 2.8, 4.0, 0.0, 0.35, 0.8),
    Persona("regular", 0.30, 1.0, 2.0, 0.10, 0.30, 0.4),
    Persona("light", 0.45, 0.35, 0.8, 0.35, 0.20, 0.15),
    Persona("dormant", 0.15, 0.1, 0.5, 1.0, 0.05, 0.05),
)


@dataclass(frozen=True)
class Profile:
    """What the simulator takes from the programme."""

    scale: float  # a regular member's yearly spend, in the programme's currency
    min_order: float
    categories: tuple[tuple[str, float], ...]  # (category, weight)
    itemised: bool  # orders carry item lines (categories matter to the programme)
    rewards: tuple[Reward, ...]  # rewards of partners whose secret the simulator knows
    paid_tiers: tuple[str, ...]
    activity_types: tuple[str, ...]

    @classmethod
    def of(cls, program: Program, partner_secrets: dict[str, str]) -> Profile:
        per_unit = float(program.earning.points_per_unit) or 1.0
        free = program.qualifying_tiers()
        if len(free) > 1:
            threshold = float(free[1].threshold)
            scale = threshold if program.qualification.measure == "spend" else threshold / per_unit
        elif program.rewards:
            scale = 12 * min(r.points for r in program.rewards) / per_unit  # a reward a month
        else:
            scale = 600.0
        campaign_categories = sorted({c for camp in program.campaigns for c in camp.categories or []})
        eligible = program.earning.eligible_categories
        weights: dict[str, float] = {c: 1.0 for c in (eligible or [GENERAL])}
        for category in campaign_categories:
            weights.setdefault(category, 0.4)
        for category in program.earning.excluded_categories:
            weights.setdefault(category, 0.1)
        itemised = bool(campaign_categories or eligible)
        rewards = tuple(r for r in program.rewards if r.partner_id in partner_secrets)
        return cls(
            scale=max(scale, 1.0),
            min_order=float(program.earning.min_order_amount),
            categories=tuple(weights.items()),
            itemised=itemised,
            rewards=rewards,
            paid_tiers=tuple(t.id for t in program.tiers if t.paid_only),
            activity_types=tuple(program.activities.types),
        )


# -- actions -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Enroll:
    channel: str
    birth_date: date
    referred_by: str | None


@dataclass(frozen=True)
class Order:
    order_id: str
    amount: Decimal
    items: tuple[tuple[str, str, Decimal], ...]  # (sku, category, amount); empty: amount only
    refund: tuple[str, Decimal] | None  # (refund_id, amount) sent right after


@dataclass(frozen=True)
class Activity:
    activity_id: str
    type: str


@dataclass(frozen=True)
class PartnerRedeem:
    redemption_id: str
    choice: float  # which affordable, eligible reward: a fraction of the list sorted by points
    cancel: bool


@dataclass(frozen=True)
class PayWithPoints:
    redemption_id: str
    share: float  # of the balance
    mode: Literal["capture", "hold-capture", "hold-void"]


@dataclass(frozen=True)
class Subscribe:
    subscription_id: str
    tier_id: str
    months: int


Action = Enroll | Order | Activity | PartnerRedeem | PayWithPoints | Subscribe


@dataclass
class SimMember:
    member_id: str
    persona: Persona
    enrol_month: int
    enrol_step: int
    channel: str
    birth_date: date
    active_until: int  # last month index with activity
    referred_by: str | None = None
    subscribe_month: int | None = None


@dataclass
class Task:
    member: SimMember
    actions: list[Action] = field(default_factory=list)


@dataclass
class Plan:
    months: list[str]  # YYYY-MM, the months of activity
    members: list[SimMember]
    steps: list[list[list[Task]]]  # [month][step] -> one task per member with something to do

    @property
    def actions(self) -> int:
        return sum(len(t.actions) for month in self.steps for step in month for t in step)


def poisson(rng: random.Random, mean: float) -> int:
    """Knuth's method: fine for the small means used here."""
    if mean <= 0:
        return 0
    limit, k, p = math.exp(-mean), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


def money(value: float) -> Decimal:
    return Decimal(f"{max(value, 0.01):.2f}")


def _season(month: str) -> float:
    return {"12": 1.4, "01": 0.8, "11": 1.15}.get(month[5:7], 1.0)


def make_plan(
    program: Program,
    profile: Profile,
    *,
    members: int,
    months: int,
    start: str,
    seed: int,
    tag: str,
    keep: Callable[[str], bool] | None = None,
) -> Plan:
    """The year's plan; with `keep`, only the tasks of the members it keeps are held (every member is drawn
    and listed all the same: the same seed gives each member the same year, whoever else is kept)."""
    rng = random.Random(seed)  # noqa: S311 - a reproducible synthetic year, not a secret
    calendar = [add_months(start, i) for i in range(months)]
    people = _members(rng, profile, members, months, tag)
    steps: list[list[list[Task]]] = [[[] for _ in STEP_DAYS] for _ in calendar]
    for m, month in enumerate(calendar):
        for person in people:
            if person.enrol_month > m:
                continue
            tasks = [Task(person) for _ in STEP_DAYS]
            _month_of(rng, program, profile, person, m, month, tasks)
            if keep is not None and not keep(person.member_id):
                continue
            for s, task in enumerate(tasks):
                if task.actions:
                    steps[m][s].append(task)
    return Plan(calendar, people, steps)


def _members(rng: random.Random, profile: Profile, count: int, months: int, tag: str) -> list[SimMember]:
    first_wave = count if months == 1 else max(1, round(count * 0.5))
    people = []
    for i in range(count):
        persona = rng.choices(PERSONAS, weights=[p.share for p in PERSONAS])[0]
        enrol_month = 0 if i < first_wave else rng.randrange(1, months)
        churns = rng.random() < persona.churn
        active_until = min(months - 1, enrol_month + (1 if persona.name == "dormant" else rng.randrange(0, months)))
        person = SimMember(
            member_id=f"sim-{tag}-{i:05d}",
            persona=persona,
            enrol_month=enrol_month,
            enrol_step=rng.randrange(len(STEP_DAYS)),
            channel=rng.choices([c for c, _ in CHANNELS], weights=[w for _, w in CHANNELS])[0],
            birth_date=date(rng.randrange(1950, 2005), rng.randrange(1, 13), rng.randrange(1, 29)),
            active_until=active_until if churns else months - 1,
        )
        if profile.paid_tiers and rng.random() < SUBSCRIBE_RATE:
            month = enrol_month + rng.randrange(0, 3)
            person.subscribe_month = month if month < months else None
        people.append(person)
    # referrals name a member enrolled in an earlier step (members of one step enrol in parallel)
    ordered = sorted(people, key=lambda p: (p.enrol_month, p.enrol_step))
    earlier: list[SimMember] = []
    pending: list[SimMember] = []
    when: tuple[int, int] | None = None
    for person in ordered:
        if (person.enrol_month, person.enrol_step) != when:
            earlier.extend(pending)
            pending, when = [], (person.enrol_month, person.enrol_step)
        if earlier and rng.random() < REFERRAL_RATE:
            person.referred_by = rng.choice(earlier).member_id
        pending.append(person)
    return people


def _month_of(
    rng: random.Random, program: Program, profile: Profile, person: SimMember, m: int, month: str, tasks: list[Task]
) -> None:
    first = person.enrol_step if m == person.enrol_month else 0
    pid = person.member_id
    if m == person.enrol_month:
        tasks[first].actions.append(Enroll(person.channel, person.birth_date, person.referred_by))
    if person.subscribe_month == m:
        tier = rng.choice(profile.paid_tiers)
        tasks[first].actions.append(Subscribe(f"{pid}-sub-{month}", tier, 12))
    if m > person.active_until:
        return
    steps = range(first, len(STEP_DAYS))
    persona = person.persona
    share_of_month = len(steps) / len(STEP_DAYS)
    mean_order = profile.scale * persona.spend / (12 * persona.orders)
    for n in range(poisson(rng, persona.orders * _season(month) * share_of_month)):
        amount = max(mean_order * rng.lognormvariate(0, 0.5), profile.min_order * rng.uniform(0.5, 3))
        order_id = f"{pid}-o-{month}-{n}"
        total = money(amount)
        items = _items(rng, profile, total) if profile.itemised else ()
        refund = None
        if rng.random() < REFUND_RATE:
            part = total if rng.random() < 0.3 else money(float(total) * rng.uniform(0.1, 0.7))
            refund = (f"{order_id}-r", min(part, total))
        tasks[rng.choice(steps)].actions.append(Order(order_id, total, items, refund))
    for type_ in profile.activity_types:
        if type_ == "birthday":
            count = 1 if person.birth_date.month == int(month[5:7]) else 0
        elif type_ in ("review", "photo-review"):
            count = poisson(rng, persona.engagement)
        else:
            count = 1 if rng.random() < 0.1 * persona.engagement / 0.4 else 0
        for n in range(count):
            tasks[rng.choice(steps)].actions.append(Activity(f"{type_}-{month}-{n}", type_))
    if profile.rewards and rng.random() < persona.redeem:
        redemption = PartnerRedeem(f"{pid}-pr-{month}", rng.random(), rng.random() < CANCEL_RATE)
        tasks[rng.choice(steps)].actions.append(redemption)
    if rng.random() < PAY_WITH_POINTS_RATE:
        mode = rng.choices(["capture", "hold-capture", "hold-void"], weights=[0.8, 0.14, 0.06])[0]
        payment = PayWithPoints(f"{pid}-pwp-{month}", rng.uniform(0.2, 0.6), mode)  # type: ignore[arg-type]
        tasks[rng.choice(steps)].actions.append(payment)


def _items(rng: random.Random, profile: Profile, total: Decimal) -> tuple[tuple[str, str, Decimal], ...]:
    """1 to 3 lines whose amounts add up to the order amount exactly."""
    lines = min(rng.randint(1, 3), int(total * 100))
    names = [c for c, _ in profile.categories]
    weights = [w for _, w in profile.categories]
    cents = int(total * 100)
    cuts = sorted(rng.sample(range(1, cents), lines - 1)) if lines > 1 else []
    bounds = [0, *cuts, cents]
    out = []
    for n in range(lines):
        category = rng.choices(names, weights=weights)[0]
        out.append((f"sku-{category}-{rng.randrange(100)}", category, Decimal(bounds[n + 1] - bounds[n]) / 100))
    return tuple(out)
