"""The run's summary (figures from the API's member views), its consistency checks, and the chart."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

from simulator.run import Result


def summarise(result: Result, *, exclusive: bool) -> dict[str, Any]:
    """The summary of the last snapshot. `exclusive`: the stack holds only this run's members, so the
    jobs' own totals must agree with the members' figures too."""
    program = result.program
    last = result.snapshots[-1]
    outstanding = last.outstanding
    checks = {
        # the ledger identity, summed over the members the API shows
        "earned - redeemed - expired == outstanding": last.earned - last.redeemed - last.expired == outstanding,
        # what the simulator saw in the answers to its own requests
        "redeemed == redemptions answered": last.redeemed == result.redeemed_seen,
        "earned == points answered": last.earned == result.earned_seen,
        "members per tier add up": sum(last.tiers.values()) == last.members == len(result.plan.members),
        # each member's ledger, read page by page, against the balance the member view shows
        "every ledger adds up to its balance": not result.ledger_mismatches,
    }
    if exclusive:
        expired_by_jobs = sum(int(j.get("points_expired", 0)) for j in result.jobs if j.get("job") == "expiry")
        checks["expired == expiry jobs' points_expired"] = last.expired == expired_by_jobs
    order = [t.id for t in program.tiers]
    return {
        "program": program.program_id,
        "name": program.name,
        "currency": program.currency,
        "point_value": str(program.point_value),
        "members": last.members,
        "months": [s.month for s in result.snapshots],
        "members_per_tier": {t: last.tiers.get(t, 0) for t in order},
        "points": {
            "earned": last.earned,
            "redeemed": last.redeemed,
            "expired": last.expired,
            "outstanding": outstanding,
        },
        "liability": str((Decimal(outstanding) * program.point_value).quantize(Decimal("0.01"))),
        "breakage_rate": round(last.expired / last.earned, 4) if last.earned else 0.0,
        "activity": dict(sorted(result.counts.items())),
        "refused": dict(sorted(result.refused.items())),
        "retried": len(result.retried),
        "retried_samples": result.retried[:10],
        "errors": len(result.errors),
        "error_samples": result.errors[:10],
        "ledger_mismatches": result.ledger_mismatches[:10],
        "checks": checks,
        "consistent": all(checks.values()),
        "monthly": [
            {
                "month": s.month,
                "members": s.members,
                "tiers": {t: s.tiers.get(t, 0) for t in order},
                "earned": s.earned,
                "redeemed": s.redeemed,
                "expired": s.expired,
                "outstanding": s.outstanding,
            }
            for s in result.snapshots
        ],
        "member_ids": [m.member_id for m in result.plan.members],
    }


def render(summary: dict[str, Any]) -> str:
    points = summary["points"]
    width = max(len(t) for t in summary["members_per_tier"])
    lines = [
        f"Programme {summary['program']} ({summary['name']}): {summary['members']} members, "
        f"{summary['months'][0]} .. {summary['months'][-1]}",
        "Members per tier:",
        *[f"  {t:<{width}}  {n:>7}" for t, n in summary["members_per_tier"].items()],
        "Points:",
        f"  earned       {points['earned']:>12,}",
        f"  redeemed     {points['redeemed']:>12,}",
        f"  expired      {points['expired']:>12,}",
        f"  outstanding  {points['outstanding']:>12,}",
        f"Outstanding liability: {summary['liability']} {summary['currency']} "
        f"(at {summary['point_value']} {summary['currency']} a point)",
        f"Breakage rate (expired / earned): {summary['breakage_rate']:.2%}",
        "Activity: " + ", ".join(f"{k} {v}" for k, v in summary["activity"].items()),
    ]
    if summary["refused"]:
        lines.append("Refused (as a member would be): " + ", ".join(f"{k} {v}" for k, v in summary["refused"].items()))
    if summary["retried"]:
        lines.append(f"Requests sent again after a 5xx or a dropped connection: {summary['retried']}")
        lines.extend(f"  {r}" for r in summary["retried_samples"][:3])
    lines.append(f"Errors: {summary['errors']}")
    lines.extend(f"  {e}" for e in summary["error_samples"])
    lines.extend(f"  ledger: {m}" for m in summary["ledger_mismatches"])
    lines.append("Checks:")
    lines.extend(f"  [{'ok' if ok else 'FAILED'}] {name}" for name, ok in summary["checks"].items())
    return "\n".join(lines)


def write_json(summary: dict[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")


def chart(summary: dict[str, Any], path: Path) -> None:
    """Tier distribution (stacked bars) and points outstanding per month (line), as a PNG.

    Needs matplotlib (the `sim` extra); raises ImportError without it."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    monthly = summary["monthly"]
    months = [m["month"] for m in monthly]
    tiers = list(summary["members_per_tier"])
    x = list(range(len(months)))
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(11, 7.5), sharex=True, constrained_layout=True)
    fig.suptitle(
        f"{summary['name']} ({summary['program']}): {summary['members']} simulated members, "
        f"breakage {summary['breakage_rate']:.1%}, liability {summary['liability']} {summary['currency']}"
    )
    colours = plt.get_cmap("viridis")
    base = [0] * len(months)
    for i, tier in enumerate(tiers):
        counts = [m["tiers"][tier] for m in monthly]
        colour = colours(i / max(1, len(tiers) - 1) * 0.85)
        top.bar(x, counts, bottom=base, label=tier, color=colour, edgecolor="white", linewidth=0.5)
        base = [b + c for b, c in zip(base, counts, strict=True)]
    top.set_ylabel("members")
    top.set_title("Members per tier at the end of each month (after the monthly jobs)")
    top.legend(title="tier", loc="upper left", bbox_to_anchor=(1.01, 1), frameon=False)
    top.grid(axis="y", alpha=0.3)

    bottom.plot(x, [m["outstanding"] for m in monthly], marker="o", label="outstanding", color="#1f77b4")
    bottom.plot(x, [m["earned"] for m in monthly], linestyle="--", label="earned (cumulative)", color="#2ca02c")
    bottom.plot(x, [m["redeemed"] for m in monthly], linestyle="--", label="redeemed (cumulative)", color="#ff7f0e")
    bottom.plot(x, [m["expired"] for m in monthly], linestyle=":", label="expired (cumulative)", color="#d62728")
    bottom.set_ylabel("points")
    bottom.set_title("Points outstanding per month")
    bottom.yaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:,.0f}"))
    bottom.legend(loc="upper left", bbox_to_anchor=(1.01, 1), frameon=False)
    bottom.grid(alpha=0.3)
    bottom.set_xticks(x, months, rotation=45, ha="right")
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
