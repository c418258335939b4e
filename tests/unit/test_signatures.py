from __future__ import annotations

import hashlib
import hmac

import pytest
from hypothesis import given
from hypothesis import strategies as st
from loyalty.redemption.signatures import SignatureError, header_value, parse, sign, verify

NOW = 1_780_000_000
BODY = b'{"redemption_id":"r-1","member_id":"cust-1","reward_id":"coffee"}'
SECRET = "demo-partner-secret"


def reason(header: str | None, body: bytes = BODY, secrets=(SECRET,), now=(NOW,)) -> str:
    with pytest.raises(SignatureError) as caught:
        verify(header, body, list(secrets), now)
    return caught.value.reason


def test_sign_is_hmac_sha256_of_timestamp_dot_body():
    expected = hmac.new(SECRET.encode(), f"{NOW}.".encode() + BODY, hashlib.sha256).hexdigest()
    assert sign(SECRET, NOW, BODY) == expected


def test_a_valid_signature_is_accepted_and_returns_its_timestamp():
    assert verify(header_value(SECRET, NOW, BODY), BODY, [SECRET], [NOW]) == NOW


def test_the_edges_of_the_tolerance_are_accepted():
    assert verify(header_value(SECRET, NOW - 300, BODY), BODY, [SECRET], [NOW]) == NOW - 300
    assert verify(header_value(SECRET, NOW + 300, BODY), BODY, [SECRET], [NOW]) == NOW + 300


def test_wrong_secret_is_a_mismatch():
    assert reason(header_value("not-the-secret", NOW, BODY)) == "mismatch"


def test_a_changed_body_is_a_mismatch():
    assert reason(header_value(SECRET, NOW, BODY), body=BODY.replace(b"coffee", b"lounge-pass")) == "mismatch"


def test_a_changed_timestamp_is_a_mismatch():
    signature = sign(SECRET, NOW, BODY)
    assert reason(f"t={NOW - 1},v1={signature}") == "mismatch"


def test_stale_and_future_timestamps_are_refused():
    assert reason(header_value(SECRET, NOW - 301, BODY)) == "stale"
    assert reason(header_value(SECRET, NOW + 301, BODY)) == "future"


def test_any_of_several_now_candidates_may_vouch_for_freshness():
    # the local stack's set clock and the wall clock are both candidates
    old = NOW - 86_400 * 365
    assert verify(header_value(SECRET, old, BODY), BODY, [SECRET], [NOW, old + 10]) == old
    assert reason(header_value(SECRET, old, BODY), now=(NOW, old + 1000)) == "stale"


@pytest.mark.parametrize(
    "header",
    [
        "",
        "   ",
        None,
        "garbage",
        "t=abc,v1=" + "0" * 64,
        f"t={NOW}",
        f"v1={'0' * 64}",
        f"t={NOW},v1=xyz",
        f"t={NOW},v1={'0' * 63}",
        f"t={NOW},t={NOW},v1={'0' * 64}",
        f"t=-{NOW},v1={'0' * 64}",
        f"t={NOW},v1={'0' * 64}," + ",".join(f"v1={'0' * 64}" for _ in range(8)),
    ],
)
def test_garbage_headers_are_refused(header):
    assert reason(header) in ("missing", "malformed")


def test_several_v1_values_are_accepted_when_one_matches():
    wrong = sign("old-secret", NOW, BODY)
    right = sign(SECRET, NOW, BODY)
    assert verify(f"t={NOW},v1={wrong},v1={right}", BODY, [SECRET], [NOW]) == NOW
    assert verify(f"t={NOW}, v1={right}, v1={wrong}", BODY, [SECRET], [NOW]) == NOW
    assert reason(f"t={NOW},v1={wrong},v1={sign('other', NOW, BODY)}") == "mismatch"


def test_unknown_schemes_are_ignored():
    assert verify(f"t={NOW},v0=abc,{header_value(SECRET, NOW, BODY).split(',')[1]}", BODY, [SECRET], [NOW]) == NOW


def test_a_rotated_secret_list_accepts_the_old_and_the_new_secret():
    secrets = ["new-secret", SECRET]  # rotation: the new secret is added, the old one kept for a while
    assert verify(header_value("new-secret", NOW, BODY), BODY, secrets, [NOW]) == NOW
    assert verify(header_value(SECRET, NOW, BODY), BODY, secrets, [NOW]) == NOW
    assert reason(header_value(SECRET, NOW, BODY), secrets=["new-secret"]) == "mismatch"


def test_no_secret_is_refused():
    assert reason(header_value(SECRET, NOW, BODY), secrets=()) == "no_secret"


def test_the_reason_never_carries_the_signature():
    header = header_value("wrong", NOW, BODY)
    with pytest.raises(SignatureError) as caught:
        verify(header, BODY, [SECRET], [NOW])
    assert header.split("v1=")[1] not in str(caught.value)
    assert SECRET not in str(caught.value)


def test_parse_reads_the_timestamp_and_every_v1():
    parsed = parse(f"t={NOW},v1={'a' * 64},v1={'B' * 64}")
    assert parsed.timestamp == NOW and parsed.signatures == ("a" * 64, "b" * 64)


@given(body=st.binary(max_size=200), secret=st.text(min_size=1, max_size=40), skew=st.integers(-300, 300))
def test_any_body_signed_with_the_secret_verifies_and_a_flipped_byte_does_not(body, secret, skew):
    header = header_value(secret, NOW + skew, body)
    assert verify(header, body, [secret], [NOW]) == NOW + skew
    tampered = body + b"x"
    with pytest.raises(SignatureError):
        verify(header, tampered, [secret], [NOW])
