"""The monthly tier evaluation on moto: orchestrator, SQS fan-out drained by hand, worker, summary."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from loyalty.kernel.clock import CLOCK
from loyalty.program import rules as programs
from loyalty.store import core
from loyalty.store import jobs as job_store
from loyalty.store.members import load_member

from loyalty_local.runtime import LocalContext
from tests.support import jobs
from tests.support.aws import api_event, call, headers_of, invoke

AS_OF = "2026-03-01"  # evaluates the window 2025-03 … 2026-02


@pytest.fixture(autouse=True)
def clock(aws):
    CLOCK.set(datetime(2026, 3, 1, 1, 0, tzinfo=UTC))


def with_qualification(**changes: object) -> None:
    demo = programs.bundled_program()
    qualification = demo.qualification.model_copy(update=changes)
    programs.PROGRAMS.override(demo.model_copy(update={"qualification": qualification}))


def tier_of(member_id: str) -> tuple[str, str]:
    status, body, _ = call("MembersFunction", api_event("GetMember", path_params={"member_id": member_id}))
    assert status == 200
    return body["tier"]["id"], body["tier"]["source"]


def demo_members() -> None:
    jobs.write_members(
        [
            jobs.member("up", qualifying={"2025-03": 600, "2026-02": 600}),  # 1,200 in the window
            jobs.member("outside", qualifying={"2025-02": 5000, "2026-03": 5000}),  # both outside the window
            jobs.member("gold-1200", tier_id="gold", qualifying={"2026-01": 1200}),
            jobs.member("gold-0", tier_id="gold"),
            jobs.member("silver-0", tier_id="silver"),
            jobs.member("silver-kept", tier_id="silver", qualifying={"2025-12": 1500}),
            jobs.member("red-gold", qualifying={"2025-06": 3000}),
        ]
    )


def test_one_down_upgrades_and_downgrades_one_tier_and_sums_up(aws):
    demo_members()
    summary = jobs.run("tier-evaluation", AS_OF)
    assert summary == {
        "job": "tier-evaluation",
        "as_of": AS_OF,
        "members_evaluated": 7,
        "upgraded": 2,
        "downgraded": 3,
        "unchanged": 2,
        **{f"accounts_{figure}": 0 for figure in ("evaluated", "upgraded", "downgraded", "unchanged")},
    }
    assert tier_of("up") == ("silver", "qualified")
    assert tier_of("red-gold") == ("gold", "qualified")
    assert tier_of("outside") == ("red", "qualified")
    assert tier_of("gold-1200") == ("silver", "qualified")
    assert tier_of("gold-0") == ("silver", "qualified")  # one tier per evaluation, not to red
    assert tier_of("silver-0") == ("red", "qualified")
    assert tier_of("silver-kept") == ("silver", "qualified")
    changed = load_member("gold-0")
    assert changed is not None
    assert changed.tier_change == {
        "from": "gold",
        "to": "silver",
        "reason": "downgrade",
        "as_of": AS_OF,
        "source": "qualified",
    }
    assert changed.tier_period == "2026-03"


def test_to_qualified_goes_straight_to_the_tier_the_value_reaches(aws):
    with_qualification(downgrade="to_qualified")
    jobs.write_members(
        [jobs.member("gold-0", tier_id="gold"), jobs.member("gold-1200", tier_id="gold", qualifying={"2026-01": 1200})]
    )
    summary = jobs.run("tier-evaluation", AS_OF)
    assert (summary["downgraded"], summary["upgraded"]) == (2, 0)
    assert tier_of("gold-0") == ("red", "qualified")
    assert tier_of("gold-1200") == ("silver", "qualified")


def test_retain_months_keeps_a_tier_reached_recently(aws):
    with_qualification(retain_months=12)
    reached = datetime(2025, 6, 15, tzinfo=UTC)
    jobs.write_members([jobs.member("gold", tier_id="gold", tier_since=reached, tier_reached_at=reached)])
    assert jobs.run("tier-evaluation", AS_OF)["unchanged"] == 1
    assert tier_of("gold") == ("gold", "qualified")
    CLOCK.set(datetime(2026, 7, 1, 1, tzinfo=UTC))  # 12 months after 2025-06-15 have passed
    assert jobs.run("tier-evaluation", "2026-07-01")["downgraded"] == 1
    assert tier_of("gold") == ("silver", "qualified")


def subscribe(member_id: str, subscription_id: str, tier_id: str, months: int) -> tuple[int, dict, dict]:
    body = {"subscription_id": subscription_id, "tier_id": tier_id, "months": months}
    return call("MembersFunction", api_event("Subscribe", body=body, path_params={"member_id": member_id}))


def test_never_below_a_paid_tier_while_it_runs_then_down_to_the_qualified_tier(aws):
    CLOCK.set(datetime(2026, 1, 10, 9, tzinfo=UTC))
    jobs.write_members([jobs.member("paid"), jobs.member("gold-paid-silver", tier_id="gold")])
    status, body, _ = subscribe("paid", "sub-1", "gold", 3)  # until 2026-04-10
    assert status == 201 and body["tier"]["source"] == "paid" and body["ends_at"] == "2026-04-10T09:00:00Z"
    assert subscribe("gold-paid-silver", "sub-2", "silver", 12)[0] == 201
    assert tier_of("gold-paid-silver") == ("gold", "qualified")  # a paid tier is a floor, not a cap

    CLOCK.set(datetime(2026, 3, 1, 1, tzinfo=UTC))
    summary = jobs.run("tier-evaluation", AS_OF)
    assert (summary["unchanged"], summary["downgraded"]) == (1, 1)
    assert tier_of("paid") == ("gold", "paid")
    assert tier_of("gold-paid-silver") == ("silver", "paid")

    CLOCK.set(datetime(2026, 5, 1, 1, tzinfo=UTC))
    assert jobs.run("tier-evaluation", "2026-05-01")["downgraded"] == 1
    assert tier_of("paid") == ("red", "qualified")
    member = load_member("paid")
    assert member is not None and member.tier_change is not None
    assert member.tier_change["reason"] == "subscription_ended"


def test_subscription_is_idempotent_per_id_and_conflicts_on_another_body(aws):
    jobs.write_members([jobs.member("m")])
    first = invoke("MembersFunction", api_event("Subscribe", path_params={"member_id": "m"}))
    again = invoke("MembersFunction", api_event("Subscribe", path_params={"member_id": "m"}))
    assert first["statusCode"] == 201 and again["statusCode"] == 200
    assert again["body"] == first["body"]
    assert headers_of(again)["Idempotent-Replayed"] == "true"
    status, body, _ = subscribe("m", "sub-1", "silver", 12)  # the sample event is sub-1, gold, 12 months
    assert status == 409 and body["error"]["code"] == "idempotency_conflict"
    member = load_member("m")
    assert member is not None and member.version == 2  # written once
    assert (member.paid_tier, member.tier_id) == ("gold", "gold")
    for bad in (
        {"subscription_id": "s", "tier_id": "platinum", "months": 1},
        {"subscription_id": "s", "tier_id": "gold", "months": 0},
    ):
        status, body, _ = call("MembersFunction", api_event("Subscribe", body=bad, path_params={"member_id": "m"}))
        assert status == 422 and body["error"]["code"] == "validation_error"
    status, body, _ = subscribe("ghost", "sub-1", "gold", 1)
    assert status == 404 and body["error"]["code"] == "member_not_found"


def override(member_id: str, body: dict) -> tuple[int, dict, dict]:
    return call("MembersFunction", api_event("OverrideTier", body=body, path_params={"member_id": member_id}))


def test_manual_override_is_kept_until_its_date_and_audited(aws):
    CLOCK.set(datetime(2026, 1, 10, tzinfo=UTC))
    jobs.write_members([jobs.member("vip"), jobs.member("forever", tier_id="silver")])
    status, body, _ = override("vip", {"tier_id": "gold", "reason": "VIP customer", "until": "2026-04-01"})
    assert status == 200 and body["tier"]["id"] == "gold" and body["tier"]["source"] == "manual"
    assert override("forever", {"tier_id": "gold", "reason": "founder"})[0] == 200

    CLOCK.set(datetime(2026, 3, 1, 1, tzinfo=UTC))
    assert jobs.run("tier-evaluation", AS_OF)["unchanged"] == 2
    assert tier_of("vip") == ("gold", "manual")

    CLOCK.set(datetime(2026, 4, 1, 1, tzinfo=UTC))
    summary = jobs.run("tier-evaluation", "2026-04-01")
    assert (summary["downgraded"], summary["unchanged"]) == (1, 1)
    assert tier_of("vip") == ("red", "qualified")
    assert tier_of("forever") == ("gold", "manual")
    audit = core.query(KeyConditionExpression="PK = :pk", ExpressionAttributeValues={":pk": {"S": "TIERAUDIT#vip"}})
    (item,) = [core.from_item(i) for i in audit["Items"]]
    assert (item["from"], item["to"], item["reason"], item["until"]) == ("red", "gold", "VIP customer", "2026-04-01")


def test_override_refuses_a_past_date_an_unknown_tier_and_a_key_without_admin(aws):
    jobs.write_members([jobs.member("m")])
    for body, field in (
        ({"tier_id": "gold", "reason": "x", "until": "2026-03-01"}, "until"),
        ({"tier_id": "platinum", "reason": "x"}, "tier_id"),
        ({"tier_id": "gold", "reason": ""}, "reason"),
    ):
        status, answer, _ = override("m", body)
        assert status == 422 and answer["error"]["details"][0]["field"] == field
    event = api_event("OverrideTier", path_params={"member_id": "m"}, scopes="enroll earn read redeem")
    status, answer, _ = call("MembersFunction", event)
    assert status == 403 and answer["error"]["code"] == "forbidden"
    assert tier_of("m") == ("red", "qualified")


def test_a_second_run_for_the_period_changes_nothing_and_writes_no_member(aws):
    demo_members()
    jobs.run("tier-evaluation", AS_OF)
    counts, stop = jobs.count_reads_and_writes()
    try:
        summary = jobs.run("tier-evaluation", AS_OF)
    finally:
        stop()
    assert summary["members_evaluated"] == 7 and summary["unchanged"] == 7
    assert (summary["upgraded"], summary["downgraded"]) == (0, 0)
    assert counts["member_writes"] == 0


def test_a_member_enrolled_after_the_runs_clock_is_not_evaluated(aws):
    demo_members()
    CLOCK.set(datetime(2026, 3, 20, 9, tzinfo=UTC))
    status, _, _ = call("MembersFunction", api_event("Enroll", body={"member_id": "later", "channel": "web"}))
    assert status == 201
    CLOCK.set(datetime(2026, 3, 1, 1, 0, tzinfo=UTC))  # the local stack's clock, put back behind it
    summary = jobs.run("tier-evaluation", AS_OF)
    assert summary["members_evaluated"] == 7  # demo_members() alone
    later = load_member("later")
    assert later is not None and later.tier_period is None
    CLOCK.set(datetime(2026, 4, 1, 1, 0, tzinfo=UTC))
    assert jobs.run("tier-evaluation", "2026-04-01")["members_evaluated"] == 8  # a member by then
    later = load_member("later")
    assert later is not None and later.tier_period == "2026-04"


def test_a_duplicated_message_counts_and_changes_nothing_twice(aws):
    demo_members()
    started = jobs.start("tier-evaluation", AS_OF)
    url = jobs.queue_url("TierWorkQueue")
    import boto3

    sqs = boto3.client("sqs")
    bodies = []
    while got := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
        bodies += [m["Body"] for m in got]
        for m in got:
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    assert len(bodies) == 17  # one per shard, and the accounts
    for body in bodies + bodies:  # every message delivered twice
        sqs.send_message(QueueUrl=url, MessageBody=body)
    jobs.drain("tier-evaluation")
    summary = invoke("TierEvaluationFunction", {"job": "tier-evaluation", "summary_of": started})
    assert (summary["members_evaluated"], summary["upgraded"], summary["downgraded"]) == (7, 2, 3)
    member = load_member("gold-0")
    assert member is not None and member.tier_id == "silver" and member.version == 2


def test_a_worker_that_fails_after_writing_is_retried_and_counts_once(aws, monkeypatch):
    demo_members()
    # members are written, the page is not counted yet
    failed = jobs.die_before_counting_a_page(monkeypatch, lambda counts: counts.get("downgraded"))
    summary = jobs.run("tier-evaluation", AS_OF)
    assert failed
    assert (summary["members_evaluated"], summary["upgraded"], summary["downgraded"], summary["unchanged"]) == (
        7,
        2,
        3,
        2,
    )
    assert tier_of("gold-0") == ("silver", "qualified")  # one down, not two
    assert jobs.dead_letters("tier-evaluation") == []


@pytest.mark.parametrize("grant", ["override", "subscription"])
def test_a_page_retried_after_an_admin_set_the_tier_counts_what_the_run_did(aws, monkeypatch, grant):
    # The run downgrades gold-0 (gold to silver) and dies before counting the page; an admin then sets the
    # member's tier (an override to gold, a subscription to gold), which leaves its own `tier_change` on the
    # member. The retried page must count the run's downgrade, not the admin's upgrade.
    demo_members()
    real = job_store.complete_page
    failed = []

    def admin_then_die(pk, chunk, cursor, counts, *isolated):
        if counts.get("downgraded") and not failed and tier_of("gold-0") == ("silver", "qualified"):
            failed.append(chunk)
            if grant == "override":
                body = {"tier_id": "gold", "reason": "vip"}
                answer = call(
                    "MembersFunction", api_event("OverrideTier", body=body, path_params={"member_id": "gold-0"})
                )
            else:
                body = {"subscription_id": "s-1", "tier_id": "gold", "months": 12}
                answer = call("MembersFunction", api_event("Subscribe", body=body, path_params={"member_id": "gold-0"}))
            assert answer[0] in (200, 201), answer
            raise RuntimeError("injected: the worker dies before counting its page")
        return real(pk, chunk, cursor, counts, *isolated)

    monkeypatch.setattr(job_store, "complete_page", admin_then_die)
    summary = jobs.run("tier-evaluation", AS_OF)
    assert failed
    assert tier_of("gold-0")[0] == "gold"  # the admin's tier stands
    assert (summary["members_evaluated"], summary["upgraded"], summary["downgraded"], summary["unchanged"]) == (
        7,
        2,
        3,
        2,
    )


def test_a_poison_member_goes_to_the_dead_letter_queue_without_blocking_the_others(aws):
    demo_members()
    poison = {"PK": "MEMBER#poison", "SK": "MEMBER", "kind": "member", "member_id": "poison", "tier_id": 7}
    jobs.write_items([{**poison, "MEMBERPK": "MEMBERS#03"}])  # indexed like any member, unreadable as one
    summary = jobs.run("tier-evaluation", AS_OF)
    assert (summary["members_evaluated"], summary["upgraded"], summary["downgraded"]) == (7, 2, 3)
    (dead,) = jobs.dead_letters("tier-evaluation")
    assert dead["member_id"] == "poison" and dead["job"] == "tier-evaluation"


def test_a_chunk_continues_in_a_new_message_when_time_runs_short(aws, monkeypatch):
    from loyalty.tiers import evaluation as tier_evaluation

    jobs.write_members([jobs.member(f"m{i:03d}", qualifying={"2026-01": 1000 * (i % 3)}) for i in range(60)])
    monkeypatch.setattr(tier_evaluation.JOB, "page_size", 2)

    class ShortOfTime(LocalContext):  # every page is the last one that fits: the rest goes to a continuation
        def get_remaining_time_in_millis(self) -> int:
            return 1_000

    started = jobs.start("tier-evaluation", AS_OF)
    delivered = jobs.drain("tier-evaluation", context=ShortOfTime("TierWorkerFunction", 120))
    summary = invoke("TierEvaluationFunction", {"job": "tier-evaluation", "summary_of": started})
    assert delivered > 16  # continuations
    assert summary["members_evaluated"] == 60
    assert (summary["upgraded"], summary["unchanged"]) == (40, 20)


def test_metrics_are_emitted(aws, capsys):
    demo_members()
    jobs.run("tier-evaluation", AS_OF)
    emitted = jobs.emitted_metrics(capsys.readouterr().out)
    assert emitted["MembersEvaluated"] == 7
    assert emitted["Upgraded"] == 2 and emitted["Downgraded"] == 3


def test_as_of_later_than_today_is_refused(aws):
    from loyalty.kernel.errors import ValidationFailed

    with pytest.raises(ValidationFailed) as refused:
        jobs.start("tier-evaluation", "2026-03-02")
    assert refused.value.details == [{"field": "as_of", "message": refused.value.details[0]["message"]}]
    with pytest.raises(ValidationFailed):
        jobs.start("tier-evaluation", "March")


def test_tenure_perk_after_six_months(aws):
    demo = programs.bundled_program()
    programs.PROGRAMS.override(
        demo.model_copy(update={"tenure_perks": [programs.TenurePerk(perk="fast_payout", after_months=6)]})
    )
    CLOCK.set(datetime(2026, 1, 15, 12, tzinfo=UTC))
    assert call("MembersFunction", api_event("Enroll", body={"member_id": "new", "channel": "web"}))[0] == 201
    CLOCK.set(datetime(2026, 7, 14, 12, tzinfo=UTC))
    _, body, _ = call("MembersFunction", api_event("GetMember", path_params={"member_id": "new"}))
    assert "fast_payout" not in body["benefits"]["perks"]
    CLOCK.set(datetime(2026, 7, 15, 12, tzinfo=UTC))
    _, body, _ = call("MembersFunction", api_event("GetMember", path_params={"member_id": "new"}))
    assert body["benefits"]["perks"] == ["fast_payout"]
