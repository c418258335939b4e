"""Response models of the public contract (docs/contract.md, docs/api.md): what the API answers.

Every answer is built through one of these models and serialised by `Answer.body()`, so the OpenAPI
document (`python -m loyalty_local.openapi_gen`) types each status with the schema the bytes really have.
Request models live in `loyalty.requests`, domain models in `loyalty.domain.model`, stored items in `loyalty.store`.

Bytes are the contract: a replay answers the stored text of the first answer byte for byte, so a model's
fields keep the order the answer has always had, money and multipliers stay decimal strings (never a
float, never re-formatted), and `body()` leaves out only the keys the builder did not give (optional keys
such as a checkout refund's `reversed`), never a null it gave.

Cold start: this package holds the base, the errors and the shapes every capability shares; each capability's
answers live in a module of their own (`loyalty.answers.earning`, ...), imported by its routes and by the
domain where it builds them, so a function defines only the models it answers with. defer_build: a model's
validator is built the first time a route answers through it, never at import."""

from __future__ import annotations

import json
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from loyalty.domain.model import TierSource

Timestamp = Annotated[
    str,
    Field(json_schema_extra={"format": "date-time"}, examples=["2026-03-14T10:00:00Z"], description="RFC 3339, UTC"),
]
Day = Annotated[str, Field(json_schema_extra={"format": "date"}, examples=["1990-05-17"])]
Month = Annotated[str, Field(pattern=r"^[0-9]{4}-[0-9]{2}$", examples=["2026-03"], description="YYYY-MM")]
# Money and rates are decimal strings, never JSON numbers; signed where a figure can be negative (a liability)
Money = Annotated[str, Field(pattern=r"^-?[0-9]+(\.[0-9]+)?$", examples=["120.50"])]
Rate = Annotated[str, Field(pattern=r"^-?[0-9]+(\.[0-9]+)?$", examples=["1.5"])]


class Answer(BaseModel):
    """A body the API answers. `extra="forbid"`: a key the contract does not define is a bug, not an answer."""

    model_config = ConfigDict(extra="forbid", defer_build=True)

    def body(self) -> str:
        """The answer's JSON text: compact, UTF-8, the fields in the model's order, the keys given only."""
        data = self.model_dump(mode="json", exclude_unset=True)
        return json.dumps(data, separators=(",", ":"), ensure_ascii=False)


# -- errors ----------------------------------------------------------------------------------------
class ErrorDetail(Answer):
    field: str = Field(examples=["amount"])
    message: str


class ErrorInfo(Answer):
    code: str = Field(description="Stable: see the contract's table of codes.", examples=["insufficient_points"])
    message: str = Field(description="A human sentence; never a stack trace or an AWS error text.")
    request_id: str
    details: list[ErrorDetail] | None = Field(default=None, description="Validation errors: one per field.")


class ErrorAnswer(Answer):
    """Every error: `{"error": {"code", "message", "request_id", "details"?}}`."""

    error: ErrorInfo


# -- shared by several answers -------------------------------------------------------------------
class TierView(Answer):
    id: str = Field(examples=["silver"])
    name: str = Field(examples=["Silver"])
    since: Timestamp
    source: TierSource


class RulePoints(Answer):
    rule: str = Field(examples=["tier:silver"])
    points: int


class PoolPart(Answer):
    """(v1.2) A member in an account: the pool's part of the write and the pool's balance after it."""

    account_id: str
    points: int
    balance: int
