from __future__ import annotations

import random

from loyalty.members import enrolment, records
from loyalty.program.rules import bundled_program
from loyalty.reports.reconcile import reconcile_all
from loyalty.store import members as store
from loyalty.store import transaction


def test_a_random_history_reconciles_with_zero_differences_and_a_tampered_member_is_reported(aws):
    program = bundled_program()
    rng = random.Random(7)
    for i in range(6):
        enrolment.enroll(program, member_id=f"m{i}", channel="web")
    for n in range(60):
        who = f"m{rng.randrange(6)}"
        records.adjust(program, who, f"adj-{n}", rng.choice([-150, -20, 5, 40, 300]), "random history")
    report = reconcile_all()
    assert report.members == 6 and report.entries == 66
    assert report.differences == []

    tampered = store.load_member("m3")
    assert tampered is not None
    expected_version = tampered.version
    tampered.available += 1
    tampered.version += 1
    transaction.commit([(tampered, expected_version)], [])
    report = reconcile_all()
    assert [(d.member_id, d.figure, d.on_member - d.from_ledger) for d in report.differences] == [
        ("m3", "available", 1)
    ]
