"""Request models of the import routes and of an import file's rows (CONTRACT.md v1.2, "Import").

A row is checked as an enrolment's body is (the same field types: ids, e-mails, E.164 phones, names, birth
dates), strictly: a field the format does not define is refused, naming it."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AwareDatetime, BeforeValidator, Field, StrictInt

from loyalty.domain.imports import ImportFormat
from loyalty.requests.common import BirthDate, Email, Id, Name, Phone, Request, _rfc3339, example

Month = Annotated[str, Field(pattern=r"^[0-9]{4}-(0[1-9]|1[0-2])$", examples=["2027-03"])]
Timestamp = Annotated[AwareDatetime, BeforeValidator(_rfc3339)]


class ImportRequest(Request):
    """A new import: its id (the idempotency key) and the file's format."""

    model_config = example({"import_id": "from-square-1", "format": "jsonl"})

    import_id: Id
    format: ImportFormat


class TierCell(Request):
    id: Id
    until: Month | None = None


class QualifyingMonth(Request):
    month: Month
    value: Annotated[StrictInt, Field(ge=0, le=10**12)]


class BalanceCell(Request):
    points: Annotated[StrictInt, Field(gt=0, le=10**9)]
    expires: Month | None


class MemberCells(Request):
    """What both formats say of the member itself, checked as an enrolment's body is."""

    member_id: Id
    email: Email | None = None
    phone: Phone | None = None
    card_id: Id | None = None
    name: Name | None = None
    birth_date: BirthDate | None = None
    enrolled_at: Timestamp
    status: Literal["active", "suspended"] = "active"


class JsonlRow(MemberCells):
    """One line of a JSONL file."""

    tier: TierCell | None = None
    qualifying: Annotated[list[QualifyingMonth], Field(max_length=24)] | None = None
    balances: Annotated[list[BalanceCell], Field(max_length=120)] | None = None


class CsvRow(MemberCells):
    """One line of a CSV file, its cells as text (an empty cell is absent); `points` with its `expires` is the
    row's one balance."""

    tier: Id | None = None
    points: Annotated[str, Field(pattern=r"^[0-9]{1,9}$")] | None = None
    expires: Month | None = None
