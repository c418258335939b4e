"""Request models of the redemption routes (CONTRACT.md, Redemption): partner redemptions and
cancellations, pay with points."""

from __future__ import annotations

from typing import Annotated

from pydantic import (
    Field,
    StrictBool,
    StrictInt,
)

from loyalty.requests.common import (
    Id,
    PostingTime,
    Request,
    example,
)


# -- redeem --------------------------------------------------------------------------------------
class PartnerRedemptionRequest(Request):
    model_config = example({"redemption_id": "red-1", "member_id": "cust-1", "reward_id": "coffee"})

    redemption_id: Id
    member_id: Id
    reward_id: Id
    occurred_at: PostingTime | None = None


class PartnerCancelRequest(Request):
    """An empty JSON object: the path names the redemption."""

    model_config = example({})


class PayWithPointsRequest(Request):
    model_config = example({"redemption_id": "pwp-1", "member_id": "cust-1", "points": 500, "capture": False})

    redemption_id: Id
    member_id: Id
    points: Annotated[StrictInt, Field(ge=1, le=10_000_000, examples=[500])]  # a multiple of the programme's rate
    capture: StrictBool = True
    # (v1.2) pay from this account's pool: only its owners and buyers may
    account_id: Id | None = None
