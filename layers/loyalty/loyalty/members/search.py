"""Finding a member from what a person typed: a member id, a card, an email, or a phone number as people write it.

The API's identifiers stay strict (`POST /v1/members/lookup` takes E.164 only); this is the one place that
reads a person's text, for the console's search box (`POST /v1/members/search`). What the text can be is
decided by its shape, and each reading is tried in a fixed order until one finds a member:

| typed                                   | tried, in this order                                  |
|-----------------------------------------|-------------------------------------------------------|
| `ana@example.com`                       | email, then member id, then card                      |
| `cust-1`, `card-0001`                   | member id, then card                                  |
| `4155550123` (an id that reads as a phone) | member id, then card, then the phone             |
| `(415) 555-0123`, `+1 415 555 0123`      | the phone only                                        |

A phone is read with the programme's `country` (a national number such as `(415) 555-0123` in the US) by
Google's libphonenumber (`phonenumbers`), and kept only when it is a valid number (or possible, when written
with its `+`). A text that can only be a phone and cannot be read is a 422 that says `PHONE_FORMAT`.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from loyalty.domain.model import Member
from loyalty.kernel.errors import MemberNotFound, ValidationFailed
from loyalty.members import identity
from loyalty.members.views import member_view
from loyalty.program.rules import Program
from loyalty.requests.common import E164, PHONE_FORMAT
from loyalty.store import members as store

Kind = Literal["member_id", "card_id", "email", "phone"]
ID = re.compile(r"[A-Za-z0-9._:@-]{1,128}")  # the contract's id
EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
PHONE_TEXT = re.compile(r"\+?[0-9 ().\-]*[0-9][0-9 ().\-]*")  # digits and what people write between them
MIN_PHONE_DIGITS = 5


def phone(text: str, country: str | None) -> str | None:
    """`text` as an E.164 number, read with `country` when it has no `+`; None when it is not a number."""
    import phonenumbers  # only the search reads phones: not at the function's cold import

    try:
        number = phonenumbers.parse(text, country)
    except phonenumbers.NumberParseException:
        return None
    written_whole = text.lstrip().startswith("+") and phonenumbers.is_possible_number(number)
    if not (phonenumbers.is_valid_number(number) or written_whole):
        return None
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    return e164 if E164.fullmatch(e164) else None


def readings(query: str, country: str | None) -> list[tuple[Kind, str]]:
    """What `query` may be, in the order to try. Raises 422 when it can be nothing (a phone not understood)."""
    text = query.strip()
    out: list[tuple[Kind, str]] = []
    if EMAIL.fullmatch(text):
        out.append(("email", text))
    if ID.fullmatch(text):
        out += [("member_id", text), ("card_id", text)]
    digits = sum(c.isdigit() for c in text)
    if PHONE_TEXT.fullmatch(text) and digits >= MIN_PHONE_DIGITS:
        number = phone(text, country)
        if number is not None:
            out.append(("phone", number))
        elif not out:  # it can only be a phone, and it is not one we can read
            raise ValidationFailed.field("query", PHONE_FORMAT)
    if not out:
        raise ValidationFailed.field(
            "query", f"type a member id, a card, an email or a phone number (for a phone, {PHONE_FORMAT})"
        )
    return out


def _found(kind: Kind, value: str) -> Member | None:
    if kind == "member_id":
        return store.load_member(value)
    try:
        return identity.find(kind, value)
    except MemberNotFound:
        return None


def search(program: Program, query: str) -> dict[str, Any]:
    """The first member one of the query's readings finds: `{found_by, value, member}`; 404 when none does."""
    tried = readings(query, program.country)
    for kind, value in tried:
        member = _found(kind, value)
        if member is not None:
            return {"found_by": kind, "value": value, "member": member_view(member, program)}
    said = " or ".join(f"{kind.replace('_', ' ')} {value}" for kind, value in tried)
    raise MemberNotFound(f"no member has {said}")
