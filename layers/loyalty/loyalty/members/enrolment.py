"""Enrolment: the member, its identifiers and the signup bonus in one transaction, idempotent on the
member id (the same body is a replay of the first answer; a different one is `member_exists`)."""

from __future__ import annotations

from datetime import date
from typing import Any

from loyalty.domain import keys
from loyalty.domain.model import Channel, Enrolment, Member, identifiers
from loyalty.domain.writes import EnrolmentRecorded, IdentifierClaimed, SideWrite, WriteRefused
from loyalty.kernel.clock import utcnow
from loyalty.kernel.errors import MemberExists, MemberInactive, ValidationFailed
from loyalty.kernel.observability import count
from loyalty.ledger.funnel import Books
from loyalty.ledger.operations import Outcome, Retry, dumps, request_hash, retrying
from loyalty.members.identity import identifier_in_use
from loyalty.members.views import member_view
from loyalty.program.rules import Program
from loyalty.store import identity as identity_store
from loyalty.store import transaction


def enroll(
    program: Program,
    *,
    member_id: str,
    channel: Channel,
    email: str | None = None,
    name: str | None = None,
    phone: str | None = None,
    card_id: str | None = None,
    referred_by: str | None = None,
    birth_date: date | None = None,
) -> Outcome:
    """Create the member with its identifiers and grant the signup bonus, in one transaction."""
    if referred_by == member_id:
        raise ValidationFailed.field("referred_by", "a member cannot refer themselves")
    request: dict[str, Any] = {
        "member_id": member_id,
        "channel": channel,
        "email": email,
        "name": name,
        "phone": phone,
        "card_id": card_id,
        "referred_by": referred_by,
        "birth_date": birth_date.isoformat() if birth_date else None,
    }
    hash_ = request_hash(request)

    def attempt() -> Outcome:
        now = utcnow()
        member = Member(
            member_id=member_id,
            channel=channel,
            email=email,
            name=name,
            phone=phone,
            card_id=card_id,
            referred_by=referred_by,
            birth_date=birth_date,
            enrolled_at=now,
            tier_id=program.base_tier.id,
            tier_since=now,
            tier_reached_at=now,
        )
        books = Books(program, member, now)
        signup = program.activities.signup_by_channel.get(channel, program.activities.signup)
        if signup:
            moved = books.grant(signup, now)
            books.entry(
                keys.signup(member_id),
                "bonus",
                signup,
                "signup",
                now,
                details={"activity": "signup", "channel": channel},
                buckets=moved,
            )
        from loyalty.answers.members import MemberAnswer  # only the functions that enrol define the member answers

        body = dumps(MemberAnswer.model_validate(member_view(member, program, now)))
        books.close()
        writes: list[SideWrite] = [IdentifierClaimed(k, v, member_id) for k, v in identifiers(member).items()]
        writes.append(EnrolmentRecorded(Enrolment(member_id=member_id, request_hash=hash_, response=body)))
        try:
            transaction.enroll(member, books.entries, referred_by, writes)
        except transaction.MemberAlreadyExists:
            return _replay(program, member_id, hash_)
        except transaction.ReferrerMissing:
            raise ValidationFailed.field("referred_by", f"no member {referred_by!r}") from None
        except WriteRefused as refused:
            if isinstance(refused.write, IdentifierClaimed):
                raise identifier_in_use(refused.write.kind) from None
            raise
        return Outcome(201, body, member=member)

    return retrying(attempt)


def _replay(program: Program, member_id: str, hash_: str) -> Outcome:
    """The member exists: the same enrolment answers its first body; anything else is refused."""
    member, enrolment = identity_store.load_member_and_enrolment(member_id)
    if member is None:  # pragma: no cover - members are never deleted
        raise Retry()
    if member.status == "closed":  # closed is final: no write answers for it, not even a replay
        raise MemberInactive(f"member {member_id!r} is closed")
    if enrolment is not None and enrolment.request_hash == hash_:
        count("IdempotentReplays", program_id=program.program_id)
        return Outcome(200, enrolment.response, replayed=True, member=member)
    raise MemberExists(f"member {member_id!r} exists")
