"""Every key the product writes under, in one place.

Idempotency keys are ledger entry keys (`ENTRY#<key>` in the table): one business operation, one key,
so a retry finds the entry it wrote. Each kind has a prefix of its own and its components are ids
(letters, digits and `._:@-`), which never hold the `#` separator, so two kinds or two components can
never spell the same key (a partner called `pwp`, a member called `referral`). A component with a
separator in it is refused here, whatever the caller validated.

| entry                          | key                                        |
|--------------------------------|--------------------------------------------|
| order earn                     | `earn#<order_id>`                          |
| refund                         | `refund#<refund_id>`                       |
| signup bonus                   | `signup#<member_id>`                       |
| referral bonus (to referrer)   | `referral#<referred member_id>`            |
| activity                       | `activity#<member_id>#<activity_id>`       |
| admin adjustment               | `adjust#<member_id>#<adjustment_id>`       |
| partner redemption / cancel    | `redeem#<partner_id>#<redemption_id>` / `redeem_cancel#...` |
| pay with points / void, release | `pwp#<redemption_id>` / `pwp_cancel#<redemption_id>` |
| checkout order (its earn)      | `earn#<order_id>`                          |
| checkout order: a reward spent | `checkout_reward#<order_id>#<reward_id>`   |
| checkout order: points payment | `checkout_points#<order_id>`               |
| a refund's give-back of a checkout order's spent points | `refund_restore#<refund_id>` |
| monthly expiry                 | `expire#<member_id>#<YYYY-MM>`             |
| closing balance                | `close#<member_id>`                        |
| points restored into an ended month, expired at once | `lapse#<key of the entry that restored them>` |
| an account's pool: its part of an operation | `pool#<key of the operation's entry>` |
| transfer (the sender's entry)  | `transfer#<transfer_id>`                    |
| transfer (the receiver's entry) | `transfer_in#<transfer_id>`                |
| an account's monthly expiry    | `expire_account#<account_id>#<YYYY-MM>`     |
| an imported opening balance    | `import#<member_id>`                        |
"""

from __future__ import annotations

import re

SEPARATOR = "#"
_COMPONENT = re.compile(r"^[A-Za-z0-9._:@-]{1,128}$")


class KeyRefused(ValueError):
    """An id that could make two keys collide (empty, too long, or holding a separator)."""


def _id(value: str) -> str:
    if not _COMPONENT.match(value):
        raise KeyRefused(f"{value!r} is not an id that can be part of a key")
    return value


def _period(value: str) -> str:
    if not re.match(r"^[0-9]{4}-[0-9]{2}$", value):
        raise KeyRefused(f"{value!r} is not a month YYYY-MM")
    return value


def earn(order_id: str) -> str:
    return f"earn#{_id(order_id)}"


def refund(refund_id: str) -> str:
    return f"refund#{_id(refund_id)}"


def signup(member_id: str) -> str:
    return f"signup#{_id(member_id)}"


def referral(referred_member_id: str) -> str:
    return f"referral#{_id(referred_member_id)}"


def activity(member_id: str, activity_id: str) -> str:
    return f"activity#{_id(member_id)}#{_id(activity_id)}"


def adjustment(member_id: str, adjustment_id: str) -> str:
    return f"adjust#{_id(member_id)}#{_id(adjustment_id)}"


def partner_redemption(partner_id: str, redemption_id: str) -> str:
    return f"redeem#{_id(partner_id)}#{_id(redemption_id)}"


def partner_cancel(partner_id: str, redemption_id: str) -> str:
    return f"redeem_cancel#{_id(partner_id)}#{_id(redemption_id)}"


def pay_with_points(redemption_id: str) -> str:
    return f"pwp#{_id(redemption_id)}"


def pay_with_points_cancel(redemption_id: str) -> str:
    return f"pwp_cancel#{_id(redemption_id)}"


def checkout_reward(order_id: str, reward_id: str) -> str:
    """An in-store reward spent by a checkout order (the order itself is its earn, `earn#<order_id>`)."""
    return f"checkout_reward#{_id(order_id)}#{_id(reward_id)}"


def checkout_points(order_id: str) -> str:
    """A checkout order's points payment."""
    return f"checkout_points#{_id(order_id)}"


def refund_restore(refund_id: str) -> str:
    """The points a refund of a checkout order gives back (the refund itself is `refund#<refund_id>`)."""
    return f"refund_restore#{_id(refund_id)}"


def expiry(member_id: str, period: str) -> str:
    return f"expire#{_id(member_id)}#{_period(period)}"


def closing(member_id: str) -> str:
    return f"close#{_id(member_id)}"


def lapse(cause: str) -> str:
    """The `expire` entry for points a write put back into a month that is over (see loyalty.ledger.funnel)."""
    return f"lapse#{cause}"


def pool(cause: str) -> str:
    """An account pool's entry of an operation whose own entry (the member's) is `cause`: the pool's part of
    an order (`pool#earn#<order_id>`), of a refund, a spend from the pool (`pool#pwp#<redemption_id>`)."""
    return f"pool#{cause}"


def transfer(transfer_id: str) -> str:
    return f"transfer#{_id(transfer_id)}"


def transfer_in(transfer_id: str) -> str:
    return f"transfer_in#{_id(transfer_id)}"


def account_expiry(account_id: str, period: str) -> str:
    return f"expire_account#{_id(account_id)}#{_period(period)}"


def imported(member_id: str) -> str:
    """The opening balance an import brought (v1.2): one per member, whatever the import."""
    return f"import#{_id(member_id)}"
