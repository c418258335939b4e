"""The simulator's plan: seeded, coherent with the programme, and sensible about who can do what when."""

from __future__ import annotations

from pathlib import Path

from loyalty.program.rules import load_program_file

from simulator.__main__ import LOCAL_PARTNER_SECRETS
from simulator.plan import Activity, Enroll, Order, Profile, Subscribe, make_plan

ROOT = Path(__file__).resolve().parents[2]


def plan_for(name: str, members: int = 60, months: int = 13, seed: int = 7):
    program = load_program_file(ROOT / "programs" / f"{name}.yaml")
    profile = Profile.of(program, LOCAL_PARTNER_SECRETS)
    return program, make_plan(program, profile, members=members, months=months, start="2026-01", seed=seed, tag="t")


def flatten(plan):
    """(month, step, member id, action) in the order the simulator runs them."""
    return [
        (m, s, task.member.member_id, action)
        for m, month in enumerate(plan.steps)
        for s, step in enumerate(month)
        for task in step
        for action in task.actions
    ]


def test_the_same_seed_gives_the_same_year_and_another_seed_another():
    _, one = plan_for("demo")
    _, two = plan_for("demo")
    _, other = plan_for("demo", seed=8)
    assert flatten(one) == flatten(two)
    assert flatten(one) != flatten(other)


def test_every_member_enrols_once_before_anything_else_and_referrers_enrolled_earlier():
    _, plan = plan_for("activities")
    enrolled: dict[str, tuple[int, int]] = {}
    for m, s, member_id, action in flatten(plan):
        if isinstance(action, Enroll):
            assert member_id not in enrolled
            enrolled[member_id] = (m, s)
            if action.referred_by:
                assert enrolled[action.referred_by] < (m, s)  # a strictly earlier step, not a parallel one
        else:
            assert member_id in enrolled and enrolled[member_id] <= (m, s)
    assert len(enrolled) == 60 == len(plan.members)
    assert any(isinstance(a, Enroll) and a.referred_by for *_, a in flatten(plan))


def test_orders_add_up_and_use_the_programmes_categories():
    program, plan = plan_for("b2b-supplier")
    orders = [a for *_, a in flatten(plan) if isinstance(a, Order)]
    assert orders
    campaign_categories = {c for camp in program.campaigns for c in camp.categories or []}
    seen = set()
    for order in orders:
        assert order.items and sum(amount for _, _, amount in order.items) == order.amount
        seen.update(category for _, category, _ in order.items)
        if order.refund:
            assert 0 < order.refund[1] <= order.amount
    assert campaign_categories & seen and "shipping" in seen  # excluded lines are sent too


def test_activities_and_subscriptions_follow_the_programme():
    program, plan = plan_for("activities")
    types = {a.type for *_, a in flatten(plan) if isinstance(a, Activity)}
    assert types and types <= set(program.activities.types)
    assert not any(isinstance(a, Subscribe) for *_, a in flatten(plan))  # no paid tier here

    _, paid = plan_for("paid-membership")
    subscriptions = [a for *_, a in flatten(paid) if isinstance(a, Subscribe)]
    assert subscriptions and {(s.tier_id, s.months) for s in subscriptions} == {("prime", 12)}


def test_the_simulator_signs_with_the_secrets_the_local_stack_seeds():
    from loyalty_local.provision import LOCAL_PARTNER_SECRETS as SEEDED

    assert LOCAL_PARTNER_SECRETS == SEEDED
