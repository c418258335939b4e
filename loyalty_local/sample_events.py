"""Write `events/`: an API Gateway REST proxy event per route of template.yaml, a Scheduler event per job.

`python -m loyalty_local.sample_events` regenerates them; the tests load them, and they work with
`sam local invoke -e events/<name>.json <Function>`. Each file is named after its template event.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from loyalty_local.gateway import build_event
from loyalty_local.template import ROOT, Template

EVENTS = ROOT / "events"

# A till's basket: a latte free with the in-store reward, a sandwich paid in money.
BASKET: dict[str, Any] = {
    "member_id": "cust-1",
    "currency": "USD",
    "items": [
        {"sku": "latte", "category": "drinks", "amount": "4.50", "quantity": 1},
        {"sku": "sandwich", "category": "food", "amount": "8.00", "quantity": 1},
    ],
    "rewards": ["free-drink"],
    "points": 0,
}
# A request a client might send to each route, by template event name.
SAMPLE_BODIES: dict[str, Any] = {
    "Enroll": {"member_id": "cust-1", "email": "ana@example.com", "name": "Ana", "channel": "web"},
    "Lookup": {"phone": "+14155550123"},
    "Search": {"query": "(415) 555-0123"},
    "UpdateProfile": {"phone": "+14155550123", "card_id": "card-0001"},
    "SetStatus": {"status": "suspended", "reason": "card reported stolen"},
    "Adjust": {"adjustment_id": "adj-1", "points": 50, "reason": "goodwill"},
    "Subscribe": {"subscription_id": "sub-1", "tier_id": "gold", "months": 12},
    "OverrideTier": {"tier_id": "gold", "reason": "VIP customer"},
    "Earn": {
        "member_id": "cust-1",
        "order_id": "order-1",
        "amount": "120.00",
        "currency": "USD",
        "items": [{"sku": "tv-1", "category": "electronics", "amount": "120.00", "quantity": 1}],
    },
    "EarnPreview": {"member_id": "cust-1", "order_id": "order-2", "amount": "80.00", "currency": "USD"},
    "Refund": {"member_id": "cust-1", "order_id": "order-1", "refund_id": "refund-1", "amount": "40.00"},
    "Activity": {"member_id": "cust-1", "activity_id": "review-1", "type": "review"},
    "PartnerRedeem": {"redemption_id": "red-1", "member_id": "cust-1", "reward_id": "coffee"},
    "PartnerCancel": {},
    "PayWithPoints": {"redemption_id": "pwp-1", "member_id": "cust-1", "points": 500, "capture": False},
    "Capture": {},
    "Void": {},
    "CheckoutQuote": BASKET,
    "CheckoutOrder": {"member_id": "cust-1", "order_id": "till-order-1", **BASKET},
    "CreateAccount": {"account_id": "acme", "kind": "company", "name": "Acme Ltd", "member_share_percent": 10},
    "PatchAccount": {"member_share_percent": 20},
    "AddAccountMember": {"member_id": "cust-1", "role": "owner"},
    "Transfer": {"transfer_id": "gift-1", "from_member_id": "cust-1", "to_account_id": "acme", "points": 100},
}
SAMPLE_PATHS = {
    "member_id": "cust-1",
    "partner_id": "demo-partner",
    "redemption_id": "red-1",
    "id": "pwp-1",
    "asset": "swagger-ui.css",
    "account_id": "acme",
}
PATH_OVERRIDES = {"ConsoleAsset": {"asset": "console.js"}}  # the event's own file, not Swagger UI's


def api_events(template: Template) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for fn in template.functions().values():
        props_events = (template.resources[fn.logical_id].get("Properties") or {}).get("Events") or {}
        for name, spec in props_events.items():
            if spec.get("Type") != "Api":
                continue
            route = next(
                r
                for r in fn.routes
                if r.path == spec["Properties"]["Path"] and r.method == str(spec["Properties"]["Method"]).upper()
            )
            path = route.path
            for param in route.params:
                value = PATH_OVERRIDES.get(name, {}).get(param) or SAMPLE_PATHS.get(param, "x")
                path = path.replace("{" + param + "}", value)
            if name == "GetLedger":
                path += "?limit=50"
            if name == "ListRewards":
                path += "?member_id=cust-1"
            if name == "MemberEvents":
                path += "?limit=20"
            if name == "AccountLedger":
                path += "?limit=50"
            if name == "ReportsActivity":
                path += "?from=2026-01&to=2026-12"
            body = SAMPLE_BODIES.get(name)
            headers = {"Content-Type": "application/json", "Authorization": "Bearer lk_local_admin"}
            if route.authorizer is None:
                headers.pop("Authorization")
            authorizer = (
                {"principalId": "local", "scopes": "admin earn enroll read redeem", "key_id": "local"}
                if route.authorizer
                else None
            )
            event = build_event(
                route,
                route.method,
                path,
                headers,
                json.dumps(body).encode() if body is not None else None,
                stage="dev",
                authorizer=authorizer,
            )
            event["requestContext"]["requestId"] = f"sample-{name}"
            event["requestContext"]["extendedRequestId"] = f"sample-{name}"
            event["requestContext"]["requestTimeEpoch"] = 1767225600000
            event["requestContext"]["requestTime"] = "01/Jan/2026:00:00:00 +0000"
            if name in out:
                raise SystemExit(f"two API events are named {name}: name them apart in template.yaml")
            out[name] = event
    return out


def schedule_events(template: Template) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for fn in template.functions().values():
        for schedule in fn.schedules:
            out[schedule["name"]] = json.loads(schedule.get("Input") or "{}")
    return out


def render(template: Template) -> dict[str, str]:
    events = {**api_events(template), **schedule_events(template)}
    return {f"{name}.json": json.dumps(event, indent=2, sort_keys=True) + "\n" for name, event in events.items()}


def main() -> int:
    files = render(Template())
    EVENTS.mkdir(exist_ok=True)
    for stale in EVENTS.glob("*.json"):
        if stale.name not in files:
            stale.unlink()
    for name, text in files.items():
        (EVENTS / name).write_text(text, encoding="utf-8")
    print(f"wrote {len(files)} events to {EVENTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
