"""A client generated from the served `/openapi.json` by openapi-python-client (a maintained generator, from
PyPI) walks enrol -> earn -> member -> ledger -> partner redemption against the local stack, with its typed
models: if the document's answers were untyped, dangling or wrong, the generator warns or the models fail
to parse what the API sends. The client is generated once per module into a temporary folder; none of
its code is kept in the repository."""

from __future__ import annotations

import hashlib
import hmac
import importlib
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from tests.support.http import LocalStackProcess

PACKAGE = "loyalty_client"
GENERATOR = Path(sys.executable).parent / "openapi-python-client"
ADMIN = "lk_local_admin"


@pytest.fixture(scope="module")
def generated(stack: LocalStackProcess, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ModuleType]:
    served = stack.client.get("/openapi.json", key=None)
    assert served.status == 200
    folder = tmp_path_factory.mktemp("generated")
    (folder / "openapi.json").write_bytes(served.raw)
    # no post-generation hooks: formatting the generated code with ruff is not what this test judges
    (folder / "config.yml").write_text(f"post_hooks: []\npackage_name_override: {PACKAGE}\n")
    run = subprocess.run(
        [
            str(GENERATOR),
            "generate",
            "--path",
            str(folder / "openapi.json"),
            "--config",
            str(folder / "config.yml"),
            "--meta",
            "none",
            "--output-path",
            str(folder / PACKAGE),
            "--fail-on-warning",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    said = run.stdout + run.stderr
    assert run.returncode == 0, said
    assert "warning" not in said.lower(), said
    sys.path.insert(0, str(folder))
    try:
        yield importlib.import_module(PACKAGE)
    finally:
        sys.path.remove(str(folder))
        for name in [n for n in sys.modules if n == PACKAGE or n.startswith(PACKAGE + ".")]:
            del sys.modules[name]


def _module(name: str) -> Any:
    return importlib.import_module(f"{PACKAGE}.{name}")


def test_the_generated_methods_are_named_for_people(generated: ModuleType) -> None:
    for module in ("members.enroll_member", "members.get_member", "members.lookup_member", "earn.earn"):
        assert hasattr(_module(f"api.{module}"), "sync_detailed"), module


def test_a_generated_client_walks_enrol_earn_member_ledger_and_a_partner_redemption(
    generated: ModuleType, stack: LocalStackProcess
) -> None:
    models = _module("models")
    enroll_member, get_member, get_ledger = (
        _module(f"api.members.{n}") for n in ("enroll_member", "get_member", "get_ledger")
    )
    earn = _module("api.earn.earn")
    redeem_partner_reward = _module("api.partners.redeem_partner_reward")
    client = generated.AuthenticatedClient(base_url=stack.client.base, token=ADMIN)
    member_id = f"gen-{uuid.uuid4().hex[:10]}"

    enrolment = models.EnrollRequest(member_id=member_id, channel=models.EnrollRequestChannel.WEB, name="Ana")
    first = enroll_member.sync_detailed(client=client, body=enrolment)
    assert first.status_code == 201
    enrolled = first.parsed
    assert isinstance(enrolled, models.MemberAnswer)
    assert enrolled.member_id == member_id and enrolled.points.available == 100  # the signup bonus
    assert enrolled.profile.name == "Ana" and enrolled.profile.email is None
    again = enroll_member.sync_detailed(client=client, body=enrolment)
    assert again.status_code == 200 and again.headers["Idempotent-Replayed"] == "true"
    assert again.content == first.content

    order = models.EarnRequest(member_id=member_id, order_id=f"{member_id}-o1", amount="120.00", currency="USD")
    earned = earn.sync_detailed(client=client, body=order)
    assert earned.status_code == 201
    assert isinstance(earned.parsed, models.Earned)
    assert earned.parsed.points == 120 and earned.parsed.balance == 220
    assert sum(line.points for line in earned.parsed.breakdown) == earned.parsed.points
    assert earned.parsed.tier.id == "red"

    member = get_member.sync(member_id, client=client)
    assert isinstance(member, models.MemberAnswer)
    assert (member.points.available, member.points.lifetime_earned) == (220, 220)
    assert member.qualifying.value == 120 and member.qualifying.next_tier.id == "silver"
    assert (member.benefits.multiplier, member.benefits.discount_percent) == ("1.0", "0")  # decimal strings

    redemption_id = f"{member_id}-r1"
    signed = generated.Client(
        base_url=stack.client.base, httpx_args={"event_hooks": {"request": [_sign("demo-partner-secret")]}}
    )
    body = models.PartnerRedemptionRequest(redemption_id=redemption_id, member_id=member_id, reward_id="coffee")
    redeemed = redeem_partner_reward.sync_detailed("demo-partner", client=signed, body=body)
    assert redeemed.status_code == 201, redeemed.content
    assert isinstance(redeemed.parsed, models.PartnerRedemption)
    assert (redeemed.parsed.points, redeemed.parsed.balance, redeemed.parsed.status) == (150, 70, "completed")

    page = get_ledger.sync(member_id, client=client, limit=10)
    assert isinstance(page, models.LedgerPage)
    assert [(e.type_, e.points, e.balance_after) for e in page.entries] == [
        (models.LedgerLineType.REDEEM, -150, 70),
        (models.LedgerLineType.EARN, 120, 220),
        (models.LedgerLineType.BONUS, 100, 100),
    ]
    assert page.next_cursor is None

    missing = get_member.sync(f"{member_id}-nobody", client=client)
    assert isinstance(missing, models.ErrorAnswer) and missing.error.code == "member_not_found"


def _sign(secret: str) -> Any:
    """An httpx request hook: the partner signature over the exact bytes the generated client sends."""

    def sign(request: Any) -> None:
        t = str(int(time.time()))
        digest = hmac.new(secret.encode(), t.encode() + b"." + request.content, hashlib.sha256).hexdigest()
        request.headers["Loyalty-Signature"] = f"t={t},v1={digest}"

    return sign


# Every character the contract allows in an id (CONTRACT.md: letters, digits and `._:@-`)
EVERY_ID_CHARACTER = "Az09._:@-"


def test_an_id_with_every_allowed_character_goes_through_the_generated_client(
    generated: ModuleType, stack: LocalStackProcess
) -> None:
    """The generated client percent-encodes a path parameter (`:` as %3A, `@` as %40), as most HTTP clients
    do, and API Gateway hands the function the path still encoded: the edge decodes it once."""
    models = _module("models")
    enroll_member, get_member, get_ledger = (
        _module(f"api.members.{n}") for n in ("enroll_member", "get_member", "get_ledger")
    )
    adjust = _module("api.members.adjust_points")
    sent: list[bytes] = []
    hooks = {"event_hooks": {"request": [lambda request: sent.append(request.url.raw_path)]}}
    client = generated.AuthenticatedClient(base_url=stack.client.base, token=ADMIN, httpx_args=hooks)
    member_id = f"shop:{uuid.uuid4().hex[:8]}@acme.{EVERY_ID_CHARACTER}"

    enrolled = enroll_member.sync_detailed(
        client=client, body=models.EnrollRequest(member_id=member_id, channel=models.EnrollRequestChannel.WEB)
    )
    assert enrolled.status_code == 201, enrolled.content

    member = get_member.sync_detailed(member_id, client=client)
    assert b"%3A" in sent[-1] and b"%40" in sent[-1], sent  # the client did encode the id
    assert member.status_code == 200, member.content
    assert isinstance(member.parsed, models.MemberAnswer) and member.parsed.member_id == member_id

    adjusted = adjust.sync_detailed(
        member_id,
        client=client,
        body=models.AdjustmentRequest(adjustment_id=f"{EVERY_ID_CHARACTER}-adj", points=5, reason="goodwill"),
    )
    assert adjusted.status_code == 201, adjusted.content
    page = get_ledger.sync(member_id, client=client, limit=1)
    assert isinstance(page, models.LedgerPage) and page.entries[0].points == 5
