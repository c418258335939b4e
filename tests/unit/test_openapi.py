"""The OpenAPI document types every answer: each status with the schema its bytes have, only the statuses a
route answers, the replay header, operation ids a person would call, and no reference left dangling."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from loyalty.answers import earning, members
from loyalty.ledger.operations import dumps

ROOT = Path(__file__).resolve().parents[2]
DOCUMENT = json.loads((ROOT / "layers/loyalty/loyalty/openapi.json").read_text())
SCHEMAS = DOCUMENT["components"]["schemas"]
OPERATIONS = {(method, path): op for path, ops in DOCUMENT["paths"].items() for method, op in ops.items()}
# The idempotent creates of the contract: 201, and the same write again 200 with Idempotent-Replayed
CREATES = {
    ("post", "/v1/members"),
    ("post", "/v1/members/{member_id}/adjustments"),
    ("post", "/v1/members/{member_id}/subscriptions"),
    ("post", "/v1/earn"),
    ("post", "/v1/refunds"),
    ("post", "/v1/activities"),
    ("post", "/v1/partners/{partner_id}/redemptions"),
    ("post", "/v1/redemptions"),
    ("post", "/v1/checkout/orders"),
    ("post", "/v1/accounts"),
    ("post", "/v1/transfers"),
    ("post", "/v1/webhooks"),
    ("post", "/v1/imports"),
}


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        own = [node["$ref"]] if "$ref" in node else []
        return own + [r for v in node.values() for r in _refs(v)]
    if isinstance(node, list):
        return [r for v in node for r in _refs(v)]
    return []


def test_every_reference_resolves_and_no_framework_error_schema_is_left() -> None:
    refs = set(_refs(DOCUMENT))
    assert refs, "the document refers to its schemas"
    for ref in refs:
        assert ref.startswith("#/components/schemas/"), ref
        assert ref.removeprefix("#/components/schemas/") in SCHEMAS, ref
    assert not {"HTTPValidationError", "ValidationError", "ResponseValidationError"} & set(SCHEMAS)


def test_operation_ids_are_names_a_person_would_call() -> None:
    ids = {key: op["operationId"] for key, op in OPERATIONS.items()}
    assert ids[("post", "/v1/earn")] == "earn"
    assert ids[("post", "/v1/members")] == "enroll_member"
    assert ids[("get", "/v1/members/{member_id}")] == "get_member"
    assert ids[("post", "/v1/members/lookup")] == "lookup_member"
    assert len(set(ids.values())) == len(ids), "operation ids are unique"
    for key, name in ids.items():
        assert re.fullmatch(r"[a-z]+(_[a-z]+)*", name) and len(name) <= 30, (key, name)


def test_only_idempotent_creates_answer_201_and_their_replays_carry_the_header() -> None:
    assert {key for key, op in OPERATIONS.items() if "201" in op["responses"]} == CREATES
    for key in CREATES:
        created, replayed = OPERATIONS[key]["responses"]["201"], OPERATIONS[key]["responses"]["200"]
        assert replayed["content"] == created["content"], key  # the replay is the first answer
        header = replayed["headers"]["Idempotent-Replayed"]
        assert header["required"] is True and header["schema"] == {"type": "string", "enum": ["true"]}, key


def test_the_repeatable_writes_document_their_replay_header() -> None:
    """A repeated void, partner cancel or capture answers its first answer again, replayed (issue 30)."""
    for key in (
        ("post", "/v1/redemptions/{redemption_id}/capture"),
        ("post", "/v1/redemptions/{redemption_id}/void"),
        ("post", "/v1/partners/{partner_id}/redemptions/{redemption_id}/cancel"),
    ):
        header = OPERATIONS[key]["responses"]["200"]["headers"]["Idempotent-Replayed"]
        assert header["required"] is False and header["schema"] == {"type": "string", "enum": ["true"]}, key


@pytest.mark.parametrize("key", sorted(OPERATIONS), ids=lambda k: f"{k[0]} {k[1]}")
def test_every_status_has_its_real_schema(key: tuple[str, str]) -> None:
    responses = OPERATIONS[key]["responses"]
    successes = [s for s in responses if s.startswith("2")]
    assert successes, key
    for status, response in responses.items():
        schema = response["content"]["application/json"]["schema"]
        name = schema["$ref"].removeprefix("#/components/schemas/")
        if status.startswith("2"):
            assert name != "ErrorAnswer" and SCHEMAS[name].get("properties"), (key, status)
        else:
            assert name == "ErrorAnswer", (key, status)
    assert "500" in responses
    if key[0] in ("post", "patch"):
        assert {"413", "422"} <= set(responses), key  # every body can be too large or malformed
    else:
        assert "413" not in responses, key
    # every route can answer 422: an unknown query parameter, or fields in a body where it takes none, are
    # refused (issue 30; before, a GET without parameters could not be malformed and listed no 422)
    assert "422" in responses, key


def test_the_error_schema_is_the_contract_s() -> None:
    error = SCHEMAS["ErrorInfo"]
    assert set(error["required"]) == {"code", "message", "request_id"}
    assert set(error["properties"]) == {"code", "message", "request_id", "details"}
    assert SCHEMAS["ErrorAnswer"]["required"] == ["error"]


def test_an_answer_s_text_is_the_data_it_was_given_byte_for_byte() -> None:
    """What the dicts of the domain always answered: key order, decimal strings, nulls, UTF-8 (replays of
    answers stored before the models must still be the same bytes)."""
    tier = {"id": "silver", "name": "Silver ✦", "since": "2026-03-14T10:00:00Z", "source": "qualified"}
    earned = {
        "entry_id": "e1",
        "member_id": "zoë",
        "order_id": "o1",
        "points": 180,
        "breakdown": [{"rule": "base", "points": 120}, {"rule": "tier:silver", "points": 60}],
        "balance": 820,
        "tier": tier,
    }
    expected = json.dumps(earned, separators=(",", ":"), ensure_ascii=False)
    assert dumps(earning.Earned.model_validate(earned)) == expected
    plain = {"refund_id": "r1", "order_id": "o1", "points": -60, "balance": 760}
    assert earning.Refunded.model_validate(plain).body() == json.dumps(plain, separators=(",", ":"))
    checkout = {"refund_id": "r1", "order_id": "o1", "points": 3, "reversed": -2, "restored": 5, "balance": 9}
    assert earning.Refunded.model_validate(checkout).body() == json.dumps(checkout, separators=(",", ":"))
    profile = {"email": None, "name": None, "phone": "+14155550123", "card_id": None, "birth_date": None}
    assert members.Profile.model_validate(profile).body() == json.dumps(profile, separators=(",", ":"))


def test_an_answer_with_a_key_the_contract_does_not_define_is_refused() -> None:
    with pytest.raises(ValueError, match="extra"):
        earning.ActivityAwarded.model_validate({"entry_id": "e", "points": 1, "balance": 1, "debug": "x"})


def test_the_document_says_the_contracts_version() -> None:
    assert DOCUMENT["info"]["version"] == "1.2.0"  # CONTRACT.md v1.2


TYPE_NOTES = ("RFC 3339, UTC", "YYYY-MM")


def test_every_field_and_parameter_has_a_sentence() -> None:
    """What a field means, in the document (Swagger UI, the generated clients) and docs/api.md: never a bare type
    note such as "RFC 3339, UTC" (loyalty_local.field_notes gives a name many models share its sentence)."""
    said = {
        f"{name}.{field}": spec.get("description", "")
        for name, schema in SCHEMAS.items()
        for field, spec in (schema.get("properties") or {}).items()
    }
    said |= {
        f"{method} {path} {parameter['name']}": parameter.get("description", "")
        for (method, path), op in OPERATIONS.items()
        for parameter in op.get("parameters") or []
    }
    assert len(said) > 300
    bare = {where: text for where, text in said.items() if not text or text in TYPE_NOTES}
    assert not bare, f"give these a sentence (the model's description, or loyalty_local/field_notes.py): {bare}"


def _request_models() -> dict[str, type[Any]]:
    import importlib

    from pydantic import BaseModel

    found: dict[str, type[Any]] = {}
    import pkgutil

    import loyalty.requests

    for info in pkgutil.iter_modules(loyalty.requests.__path__):  # every module: a new one needs no edit here
        for name, value in vars(importlib.import_module(f"loyalty.requests.{info.name}")).items():
            if isinstance(value, type) and issubclass(value, BaseModel) and name in SCHEMAS:
                found[name] = value
    return found


def test_every_request_body_has_an_example_the_model_takes() -> None:
    """Swagger UI's "Try it out" fills a body with its schema's example: one of the demo programme's day (the
    reference's walk sends each as its route's first request, so each works on a stack, in order)."""
    models = _request_models()
    bodies = {
        op["requestBody"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1]
        for op in OPERATIONS.values()
        if "requestBody" in op
    }
    assert len(bodies) >= 15
    nested = {"OrderItem", "CheckoutItem", "LookupRequest"}
    for name in sorted(bodies | nested):
        examples = SCHEMAS[name].get("examples")
        assert examples, f"{name} has no example"
        models[name].model_validate(examples[0])  # the model takes it
        if "member_id" in SCHEMAS[name].get("properties", {}) and name != "LookupRequest":
            assert examples[0].get("member_id") == "cust-1", name
    lookup = SCHEMAS["LookupRequest"]["examples"][0]
    assert len(lookup) == 1, "exactly one identifier"
