"""The programme: rules as data, validated by pydantic at load.

A programme is a YAML or JSON document (see `programs/demo.yaml` beside this module). Deployed, it is
read from SSM Parameter Store through Powertools Parameters with caching, so a campaign can change
without a redeploy. `python -m loyalty program validate FILE` checks a file.
"""

from __future__ import annotations

import json
import threading
import time
from datetime import date
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

Id = Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9._:@-]+$")]
PositiveDecimal = Annotated[Decimal, Field(ge=0)]
Period = Literal["month", "year", "lifetime"]


class Strict(BaseModel):
    # defer_build: the programme's validators are built when a programme is first loaded, not at every
    # import (~20-50 ms of a cold start; the authorizer and /openapi.json never load one). Defaults that
    # are models use default_factory: an instance made at class definition would build it at import.
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)


class Earning(Strict):
    points_per_unit: PositiveDecimal = Decimal(1)
    rounding: Literal["floor"] = "floor"
    eligible_categories: list[str] | None = None  # None: every category not excluded
    excluded_categories: list[str] = []
    min_order_amount: PositiveDecimal = Decimal(0)


class Benefits(Strict):
    discount_percent: PositiveDecimal = Decimal(0)
    perks: list[str] = []


class Tier(Strict):
    id: Id
    name: str
    threshold: int = Field(ge=0)
    multiplier: Decimal = Field(ge=1)
    benefits: Benefits = Field(default_factory=Benefits)
    paid_only: bool = False  # reachable only by subscription (the paid-membership model)


class Qualification(Strict):
    measure: Literal["base_points", "spend"] = "base_points"
    window_months: int = Field(default=12, ge=1, le=24)
    downgrade: Literal["one_down", "to_qualified"] = "one_down"
    retain_months: int = Field(default=0, ge=0, le=120)


class TenurePerk(Strict):
    perk: str
    after_months: int = Field(ge=0)


class CampaignWindow(Strict):
    """One-off (`start`/`end` dates) or yearly (`start`/`end` as MM-DD)."""

    recurrence: Literal["once", "yearly"] = "once"
    start: str
    end: str
    announce_days: int = Field(default=0, ge=0, le=366)

    @model_validator(mode="after")
    def _check(self) -> CampaignWindow:
        fmt = "%m-%d" if self.recurrence == "yearly" else "%Y-%m-%d"
        from datetime import datetime as _dt

        for value in (self.start, self.end):
            try:
                _dt.strptime(value if self.recurrence == "once" else f"2024-{value}", "%Y-%m-%d")
            except ValueError:
                raise ValueError(f"campaign window date {value!r} is not {fmt}") from None
        if self.recurrence == "once" and self.end < self.start:
            raise ValueError("campaign window ends before it starts")
        return self


class CampaignBonus(Strict):
    percent: PositiveDecimal | None = None  # extra points = floor(percent/100 × matching amount)
    points: int | None = Field(default=None, ge=0)  # fixed extra points per matching order

    @model_validator(mode="after")
    def _one(self) -> CampaignBonus:
        if (self.percent is None) == (self.points is None):
            raise ValueError("a campaign bonus is either `percent` or `points`")
        return self


class CampaignDiscount(Strict):
    """A price discount at checkout on the campaign's lines, added to the tier's `discount_percent`."""

    percent: Decimal = Field(gt=0, le=100)


class Campaign(Strict):
    """Extra points (`bonus`), a price discount at checkout (`discount`), or both, while the window runs."""

    id: Id
    name: str
    window: CampaignWindow
    categories: list[str] | None = None  # None: any eligible item
    skus: list[str] | None = None
    bonus: CampaignBonus | None = None
    discount: CampaignDiscount | None = None
    stackable: bool = True  # how its bonus combines with other campaigns' (discounts always add up)

    @model_validator(mode="after")
    def _gives_something(self) -> Campaign:
        if self.bonus is None and self.discount is None:
            raise ValueError("a campaign gives a `bonus` (points), a `discount` (price), or both")
        return self


class ActivityCap(Strict):
    count: int = Field(ge=1)
    period: Period


class Activity(Strict):
    points: int = Field(ge=0)
    cap: ActivityCap | None = None
    counts_toward_tier: Literal[False] = False


class Activities(Strict):
    signup: int = Field(default=0, ge=0)
    signup_by_channel: dict[str, int] = {}
    referral: int = Field(default=0, ge=0)
    types: dict[str, Activity] = {}


class Expiry(Strict):
    policy: Literal["fixed_months", "activity_extends", "never"] = "fixed_months"
    months: int = Field(default=12, ge=1, le=120)


class PayWithPoints(Strict):
    points: int = Field(default=100, ge=1)  # this many points ...
    value: PositiveDecimal = Decimal("1.00")  # ... are worth this much money
    hold_minutes: int = Field(default=30, ge=1, le=7 * 24 * 60)


class Transfers(Strict):
    """Points members give each other or into an account's pool (`POST /v1/transfers`)."""

    max_points_per_month: int = Field(default=2000, ge=0)  # sent by one member in a calendar month


class RewardLimit(Strict):
    count: int = Field(ge=1)
    period: Period


class ItemDiscount(Strict):
    """One unit of the dearest matching line free, up to `max` (`category` None: any line that earns)."""

    category: str | None = None
    max: Decimal = Field(gt=0)


class RewardDiscount(Strict):
    """What an in-store reward takes off a basket at checkout: one item free, or a fixed amount."""

    item: ItemDiscount | None = None
    amount: Decimal | None = Field(default=None, gt=0)  # off the eligible lines, dearest first

    @model_validator(mode="after")
    def _one(self) -> RewardDiscount:
        if (self.item is None) == (self.amount is None):
            raise ValueError("a reward discount is either `item` or `amount`")
        return self


class Reward(Strict):
    """A partner reward (`partner_id`: redeemed by that partner's signed webhook) or an in-store reward
    (`partner_id: null` with a `discount`: taken at checkout with a bearer key)."""

    id: Id
    name: str
    points: int = Field(gt=0)
    partner_id: Id | None
    discount: RewardDiscount | None = None
    eligible_tiers: list[str] | None = None  # None: every tier
    active_from: date | None = None
    active_until: date | None = None
    stock: int | None = Field(default=None, ge=0)
    limit_per_member: RewardLimit | None = None

    @model_validator(mode="after")
    def _in_store_or_partner(self) -> Reward:
        if (self.partner_id is None) != (self.discount is not None):
            raise ValueError("an in-store reward has `partner_id: null` and a `discount`; a partner reward has neither")
        return self

    @property
    def in_store(self) -> bool:
        return self.partner_id is None


class Partner(Strict):
    id: Id
    name: str
    secret_id: str  # Secrets Manager id of the signing secret (a JSON list or a string)


class Program(Strict):
    program_id: Id
    name: str
    currency: str = Field(pattern=r"^[A-Z]{3}$")
    # ISO 3166-1 alpha-2: where the programme's members are, to read a national phone number ("(415) 555-0123"
    # in the US) typed in the console's search. None: only international numbers (+...) are read.
    country: str | None = Field(default=None, pattern=r"^[A-Z]{2}$")
    point_value: PositiveDecimal = Decimal("0.01")  # money per point, for the liability report
    earning: Earning = Field(default_factory=Earning)
    tiers: list[Tier]
    qualification: Qualification = Field(default_factory=Qualification)
    tenure_perks: list[TenurePerk] = []
    campaigns: list[Campaign] = []
    activities: Activities = Field(default_factory=Activities)
    expiry: Expiry = Field(default_factory=Expiry)
    pending_days: int = Field(default=0, ge=0, le=365)
    pay_with_points: PayWithPoints = Field(default_factory=PayWithPoints)
    transfers: Transfers = Field(default_factory=Transfers)
    rewards: list[Reward] = []
    partners: list[Partner] = []

    @field_validator("tiers")
    @classmethod
    def _tiers_sorted(cls, tiers: list[Tier]) -> list[Tier]:
        if not tiers:
            raise ValueError("a programme needs at least one tier")
        ordered = sorted(tiers, key=lambda t: t.threshold)
        if ordered[0].threshold != 0:
            raise ValueError("the lowest tier's threshold must be 0")
        if len({t.id for t in tiers}) != len(tiers):
            raise ValueError("tier ids must be unique")
        if len({t.threshold for t in tiers if not t.paid_only}) != len([t for t in tiers if not t.paid_only]):
            raise ValueError("tier thresholds must be unique")
        return ordered

    @model_validator(mode="after")
    def _references(self) -> Program:
        tier_ids = {t.id for t in self.tiers}
        partner_ids = {p.id for p in self.partners}
        for reward in self.rewards:
            if reward.partner_id is not None and reward.partner_id not in partner_ids:
                raise ValueError(f"reward {reward.id!r} names unknown partner {reward.partner_id!r}")
            for tier in reward.eligible_tiers or []:
                if tier not in tier_ids:
                    raise ValueError(f"reward {reward.id!r} names unknown tier {tier!r}")
        if len({r.id for r in self.rewards}) != len(self.rewards):
            raise ValueError("reward ids must be unique")
        if len({c.id for c in self.campaigns}) != len(self.campaigns):
            raise ValueError("campaign ids must be unique")
        return self

    # -- look-ups the domain needs -------------------------------------------------------------
    @property
    def base_tier(self) -> Tier:
        return self.tiers[0]

    def tier(self, tier_id: str) -> Tier:
        for tier in self.tiers:
            if tier.id == tier_id:
                return tier
        return self.base_tier  # a tier removed from the programme falls back to the base tier

    def qualifying_tiers(self) -> list[Tier]:
        return [t for t in self.tiers if not t.paid_only]

    def tier_rank(self, tier_id: str) -> int:
        return next((i for i, t in enumerate(self.tiers) if t.id == tier_id), 0)

    def reward(self, reward_id: str) -> Reward | None:
        return next((r for r in self.rewards if r.id == reward_id), None)

    def partner(self, partner_id: str) -> Partner | None:
        return next((p for p in self.partners if p.id == partner_id), None)


class ProgramError(ValueError):
    """A programme document that does not validate; the message lists every problem."""


def parse_program(document: str | bytes | dict[str, Any], *, source: str = "programme") -> Program:
    if isinstance(document, dict):
        data: Any = document
    else:
        text = document.decode() if isinstance(document, bytes) else document
        try:
            data = json.loads(text)
        except json.JSONDecodeError:
            import yaml  # lazy: only programme files written in YAML need it

            try:
                data = yaml.safe_load(text)
            except yaml.YAMLError as exc:
                raise ProgramError(f"{source}: not valid YAML or JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ProgramError(f"{source}: a programme is a mapping at the top level")
    try:
        return Program.model_validate(data)
    except ValidationError as exc:
        lines = [f"  - {'.'.join(str(p) for p in e['loc']) or '(top)'}: {e['msg']}" for e in exc.errors()]
        raise ProgramError(f"{source}: invalid programme:\n" + "\n".join(lines)) from None


def load_program_file(path: str | Path) -> Program:
    path = Path(path)
    return parse_program(path.read_text(encoding="utf-8"), source=str(path))


def bundled_program(name: str = "demo") -> Program:
    text = resources.files("loyalty").joinpath("programs", f"{name}.yaml").read_text(encoding="utf-8")
    return parse_program(text, source=f"bundled:{name}")


class _ProgramCache:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._value: tuple[str, float, Program] | None = None
        self._override: Program | None = None

    def get(self, source: str, max_age: float) -> Program:
        if self._override is not None:
            return self._override
        cached = self._value
        now = time.monotonic()
        if cached and cached[0] == source and now - cached[1] < max_age:
            return cached[2]
        with self._lock:
            program = load_source(source)
            self._value = (source, now, program)
            return program

    def override(self, program: Program | None) -> None:
        """Serve this programme regardless of the source (the local stack's `--program`, tests)."""
        self._override = program
        self._value = None


def load_source(source: str) -> Program:
    """A programme from where a stack reads it: `ssm:<parameter>`, `bundled:<name>` or a file."""
    if source.startswith("bundled:"):
        return bundled_program(source.removeprefix("bundled:"))
    if source.startswith("ssm:"):
        from loyalty.store.parameters import read_parameter  # boto3 is the store's

        value = read_parameter(source.removeprefix("ssm:"))
        if value.strip().startswith("bundled:"):
            return bundled_program(value.strip().removeprefix("bundled:"))
        return parse_program(value, source=source)
    return load_program_file(source)


PROGRAMS = _ProgramCache()


def current_program() -> Program:
    from loyalty.kernel.config import settings

    cfg = settings()
    return PROGRAMS.get(cfg.program_source, cfg.program_cache_seconds)
