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
)


# -- redeem --------------------------------------------------------------------------------------
class PartnerRedemptionRequest(Request):
    redemption_id: Id
    member_id: Id
    reward_id: Id
    occurred_at: PostingTime | None = None


class PartnerCancelRequest(Request):
    """An empty JSON object: the path names the redemption."""


class PayWithPointsRequest(Request):
    redemption_id: Id
    member_id: Id
    points: Annotated[StrictInt, Field(ge=1, le=10_000_000, examples=[500])]  # a multiple of the programme's rate
    capture: StrictBool = True
    # (v1.2) pay from this account's pool: only its owners and buyers may
    account_id: Id | None = None
