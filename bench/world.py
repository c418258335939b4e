"""The bench's world: moto with template.yaml's resources, and the real handlers invoked with events/.

Handlers run in process (one warm execution environment per function, as the integration tests run
them), reached the way API Gateway reaches them: the function whose template route matches the
sample event's method and resource. Partner requests carry a real `Loyalty-Signature`.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from tests.support.aws import TEMPLATE, api_event, call, invoke, load_event, mocked_aws

PARTNER_SECRETS = {"demo-partner": "demo-partner-secret", "other-partner": "other-partner-secret"}


class BenchError(RuntimeError):
    """An operation the bench relies on did not answer as the contract says: the figures would lie."""


@contextmanager
def moto_world() -> Iterator[None]:
    """moto with template.yaml's resources; transactions back up only their own items (bench.moto_patch)."""
    from bench.moto_patch import fast_transactions

    with mocked_aws(), fast_transactions():
        yield


@contextmanager
def quiet() -> Iterator[None]:
    """Send the handlers' log lines (Powertools writes JSON to stdout) to /dev/null meanwhile."""
    sys.stdout.flush()
    saved = os.dup(1)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    try:
        yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)
        os.close(devnull)


_ROUTES: dict[tuple[str, str], str] = {}


def function_for(event_name: str) -> str:
    """The template function that API Gateway would invoke for the sample event `event_name`."""
    event = load_event(event_name)
    wanted = (event["httpMethod"].upper(), event["resource"])
    if not _ROUTES:
        for fn in TEMPLATE.functions().values():
            for route in fn.routes:
                _ROUTES[(route.method.upper(), route.path)] = fn.logical_id
    try:
        return _ROUTES[wanted]
    except KeyError:
        message = f"no function in template.yaml serves {wanted[0]} {wanted[1]} (events/{event_name}.json)"
        raise BenchError(message) from None


def signed_event(
    event_name: str, body: dict[str, Any], *, partner: str = "demo-partner", path_params: dict[str, str] | None = None
) -> dict[str, Any]:
    from loyalty.redemption.signatures import header_value

    raw = json.dumps(body)
    header = header_value(PARTNER_SECRETS[partner], int(time.time()), raw.encode())
    params = {"partner_id": partner, **(path_params or {})}
    return api_event(event_name, raw_body=raw, path_params=params, headers={"Loyalty-Signature": header})


def request(
    event_name: str,
    body: Any = ...,
    *,
    path_params: dict[str, str] | None = None,
    query: dict[str, str] | None = None,
    partner: str | None = None,
    expect: tuple[int, ...] = (200, 201),
) -> tuple[int, Any, dict[str, str]]:
    """Invoke the handler for `events/<event_name>.json` with this body; raise unless the status is expected."""
    if partner is not None:
        event = signed_event(event_name, body if body is not ... else {}, partner=partner, path_params=path_params)
    else:
        event = api_event(event_name, body=body, path_params=path_params, query=query)
    status, answer, headers = call(function_for(event_name), event)
    if status not in expect:
        raise BenchError(f"{event_name} answered {status} (expected {expect}): {answer}")
    return status, answer, headers


def raw_invoke(function: str, event: dict[str, Any]) -> Any:
    return invoke(function, event)


# -- the demo's operations, as a checkout or a partner sends them -------------------------------------
def enroll(member_id: str, **extra: Any) -> Any:
    return request("Enroll", {"member_id": member_id, "channel": "web", **extra}, expect=(201,))[1]


def earn(member_id: str, order_id: str, amount: str = "120.00", expect: tuple[int, ...] = (201,)) -> Any:
    body = {"member_id": member_id, "order_id": order_id, "amount": amount, "currency": "USD"}
    return request("Earn", body, expect=expect)


def pay_with_points(
    member_id: str, redemption_id: str, points: int = 100, capture: bool = True, account_id: str | None = None
) -> Any:
    body: dict[str, Any] = {
        "redemption_id": redemption_id,
        "member_id": member_id,
        "points": points,
        "capture": capture,
    }
    if account_id is not None:
        body["account_id"] = account_id
    return request("PayWithPoints", body, expect=(201,))


def partner_redeem(member_id: str, redemption_id: str, reward_id: str = "coffee") -> Any:
    body = {"redemption_id": redemption_id, "member_id": member_id, "reward_id": reward_id}
    return request("PartnerRedeem", body, partner="demo-partner", expect=(201,))


def read_member(member_id: str) -> Any:
    return request("GetMember", path_params={"member_id": member_id}, expect=(200,))
