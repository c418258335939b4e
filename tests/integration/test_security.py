from __future__ import annotations

import hashlib

import boto3
import pytest

from tests.support.aws import invoke


def test_keys_are_stored_hashed_never_in_clear(aws):
    items = boto3.client("dynamodb").scan(TableName="LoyaltyTable")["Items"]
    dump = str(items)
    assert "lk_local_checkout" not in dump and "lk_local_admin" not in dump
    hashes = {i["SK"]["S"] for i in items if i["PK"]["S"] == "APIKEYS"}
    assert hashlib.sha256(b"lk_local_checkout").hexdigest() in hashes


def authorizer_event(header: str | None) -> dict:
    return {
        "type": "REQUEST",
        "methodArn": "arn:aws:execute-api:us-east-1:123456789012:api/dev/GET/v1/program",
        "headers": {"Authorization": header} if header else {},
    }


def test_the_authorizer_allows_a_known_key_and_passes_its_scopes(aws):
    policy = invoke("AuthorizerFunction", authorizer_event("Bearer lk_local_checkout"))
    assert policy["policyDocument"]["Statement"][0]["Effect"] == "Allow"
    assert (
        policy["policyDocument"]["Statement"][0]["Resource"] == "arn:aws:execute-api:us-east-1:123456789012:api/dev/*/*"
    )
    assert policy["context"]["scopes"] == "earn enroll read redeem"


def test_a_refused_or_revoked_key_is_unauthorized_and_never_logged(aws, capsys):
    from loyalty.edge import auth

    secret = "lk_live_this-is-a-secret-key-value"
    for header in ("Bearer " + secret, "Basic Zm9vOmJhcg==", None):
        with pytest.raises(Exception, match="Unauthorized"):
            invoke("AuthorizerFunction", authorizer_event(header))
    token = auth.create_key("shop", ["earn"])
    (key,) = [k for k in auth.list_keys() if k["name"] == "shop"]
    assert invoke("AuthorizerFunction", authorizer_event("Bearer " + token))["principalId"] == key["key_id"]
    assert auth.revoke(str(key["key_id"]))
    with pytest.raises(Exception, match="Unauthorized"):
        invoke("AuthorizerFunction", authorizer_event("Bearer " + token))
    logged = capsys.readouterr()
    assert secret not in logged.out + logged.err and token not in logged.out + logged.err
