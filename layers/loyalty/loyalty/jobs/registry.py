"""Every scheduled job, once: the name its schedule sends (`{"job": <name>}` in template.yaml's Input, and
`POST /_local/jobs/<name>` locally), when it runs, and the figures its summary counts.

The rest of the code enumerates jobs from here: the jobs themselves (`loyalty.expiry.job`,
`loyalty.tiers.evaluation`), the what-if replay, the simulator, the demo history and the bench. A new job is
one entry here and a schedule in template.yaml (a unit test holds the two together).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Cadence = Literal["monthly", "daily", "every 5 minutes"]


@dataclass(frozen=True)
class ScheduledJob:
    name: str
    cadence: Cadence
    cron: str  # the schedule's expression in template.yaml (UTC)
    summary: tuple[str, ...] = ()  # a monthly run's figures (GET /v1/jobs)


# On the 1st, in this order: the points of the month that ended expire, then the tiers are evaluated.
EXPIRY = ScheduledJob(
    "expiry",
    "monthly",
    "cron(0 0 1 * ? *)",
    # points_expired: members' and accounts' pools' together (v1.2 counts the pools apart beside it)
    ("members_affected", "points_expired", "members_warned", "accounts_affected", "accounts_warned"),
)
TIER_EVALUATION = ScheduledJob(
    "tier-evaluation",
    "monthly",
    "cron(0 1 1 * ? *)",
    (
        "members_evaluated",
        "upgraded",
        "downgraded",
        "unchanged",
        # v1.2: accounts, counted apart
        "accounts_evaluated",
        "accounts_upgraded",
        "accounts_downgraded",
        "accounts_unchanged",
    ),
)
PENDING_ACTIVATION = ScheduledJob("pending-activation", "daily", "rate(1 day)")
HOLD_RELEASE = ScheduledJob("hold-release", "every 5 minutes", "rate(5 minutes)")

ALL: tuple[ScheduledJob, ...] = (EXPIRY, TIER_EVALUATION, PENDING_ACTIVATION, HOLD_RELEASE)
MONTHLY: tuple[ScheduledJob, ...] = tuple(j for j in ALL if j.cadence == "monthly")
MONTHLY_NAMES: tuple[str, ...] = tuple(j.name for j in MONTHLY)


def monthly_order(name: str) -> int:
    """Where a job runs among the 1st's jobs (after them all when it is not a monthly job)."""
    return MONTHLY_NAMES.index(name) if name in MONTHLY_NAMES else len(MONTHLY_NAMES)
