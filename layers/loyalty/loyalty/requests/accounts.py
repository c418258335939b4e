"""Request models of the accounts routes (CONTRACT.md v1.2, Accounts: companies and households) and of
transfers."""

from __future__ import annotations

from typing import Annotated, Literal, Self

from pydantic import Field, StrictInt, model_validator

from loyalty.requests.common import Id, Name, Request, example

AccountKindField = Literal["company", "household"]
Role = Literal["owner", "buyer", "contributor"]
SharePercent = Annotated[StrictInt, Field(ge=0, le=100, examples=[10])]
MaxMembers = Annotated[StrictInt, Field(ge=1, le=1000, examples=[200])]
Reason = Annotated[str, Field(min_length=1, max_length=500)]


class AccountRequest(Request):
    """A company or a household. `max_members` defaults to 200 for a company and 6 for a household."""

    model_config = example({"account_id": "acme", "kind": "company", "name": "Acme Ltd", "member_share_percent": 10})

    account_id: Id
    kind: AccountKindField
    name: Name
    member_share_percent: SharePercent = 0
    max_members: MaxMembers | None = None


class AccountPatchRequest(Request):
    """Any of the account's name, share and size limit (a new share applies to later orders)."""

    model_config = example({"member_share_percent": 20})

    name: Name | None = None
    member_share_percent: SharePercent | None = None
    max_members: MaxMembers | None = None


class AccountMemberRequest(Request):
    """Add a member to the account, or set the role of one who is in it already."""

    model_config = example({"member_id": "cust-1", "role": "owner"})

    member_id: Id
    role: Role


class TransferRequest(Request):
    """Give points to another member (`to_member_id`) or into an account's pool (`to_account_id`): one of them."""

    model_config = example(
        {"transfer_id": "gift-1", "from_member_id": "cust-1", "to_account_id": "acme", "points": 100, "reason": "team"}
    )

    transfer_id: Id
    from_member_id: Id
    to_member_id: Id | None = None
    to_account_id: Id | None = None
    points: Annotated[StrictInt, Field(ge=1, le=10_000_000, examples=[300])]
    reason: Reason | None = None

    @model_validator(mode="after")
    def _one_receiver(self) -> Self:
        if (self.to_member_id is None) == (self.to_account_id is None):
            raise ValueError("give exactly one of to_member_id and to_account_id")
        if self.to_member_id is not None and self.to_member_id == self.from_member_id:
            raise ValueError("a member cannot transfer points to itself")
        return self
