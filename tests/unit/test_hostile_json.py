"""The refusal of hostile JSON before parsing (`loyalty.edge.http.refuse_hostile_json`); no AWS."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from loyalty.edge import http
from loyalty.kernel.errors import ValidationFailed

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(alphabet='[]{}"\\:,ab \n', max_size=6),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(alphabet='[]{}"\\ab', max_size=4), inner),
    max_leaves=30,
)


def depth(value: Any) -> int:
    if isinstance(value, dict):
        return 1 + max(map(depth, value.values()), default=0)
    if isinstance(value, list):
        return 1 + max(map(depth, value), default=0)
    return 0


@settings(max_examples=300, deadline=None)
@given(value=JSON_VALUES, indent=st.sampled_from([None, 1]))
def test_the_scan_counts_what_the_parser_nests_and_skips_brackets_inside_strings(value, indent):
    assert http.nesting_depth(json.dumps(value, indent=indent), limit=10_000) == depth(value)


@pytest.mark.parametrize(
    "text",
    [
        '"' + '\\"' * 32_000,  # an unterminated string of escaped quotes: every quote a fresh start (20 s before)
        '"' + '\\"' * 32_000 + "\\",
        '"' * 65_000,
        "[" * 65_000,
        '["' * 32_000,
        '{"a":' * 13_000,
    ],
)
def test_the_scan_is_linear_on_a_full_64_kib_body(text):
    started = time.perf_counter()
    with pytest.raises(ValidationFailed):
        http.refuse_hostile_json(text)
    assert time.perf_counter() - started < 1.0


@pytest.mark.parametrize(
    ("text", "field", "message"),
    [
        ("[" * 65 + "]" * 65, "body", "the body nests more than 64 levels deep"),
        ('{"a": 1, "a": 2}', "a", "appears twice in one object"),
        ('{"a": [{"b": 1, "b": 1}]}', "b", "appears twice in one object"),
        ('{"a": NaN}', "body", "NaN is not a JSON number"),
        ('{"a": -Infinity}', "body", "-Infinity is not a JSON number"),
        ('{"a": ' + "1" * 101 + "}", "body", "a number has more than 100 digits"),
        ('{"a": ' + "9" * 5_000 + "}", "body", "a number has more than 100 digits"),
        ("[]", "body", "the body must be a JSON object"),
        ("null", "body", "the body must be a JSON object"),
        ("{", "body", "the body is not valid JSON"),
    ],
)
def test_each_refusal_names_its_field(text, field, message):
    with pytest.raises(ValidationFailed) as refused:
        http.refuse_hostile_json(text)
    assert refused.value.status == 422 and refused.value.details == [{"field": field, "message": message}]


def test_the_deepest_accepted_body_and_big_but_sane_numbers_pass():
    http.refuse_hostile_json('{"a":' * 63 + "[1]" + "}" * 63)  # 64 levels
    http.refuse_hostile_json('{"a": ' + "9" * 100 + ', "b": "\\ud800", "c": 1e999}')  # the models refuse these
