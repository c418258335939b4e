"""The replay engine's DynamoDB calls answered by moto without botocore's HTTP round trip (`install()`).

A DynamoDB call of the product goes, in the engine's process, through botocore's whole send: the request built
and prepared, the retry machinery, the `before-send` hook into moto, and the answer parsed back shape by shape
from JSON. botocore lets a `before-call` hook answer a call instead (its own Stubber does): this one hands the
request botocore has just built (its parameters validated, serialised, the endpoint resolved, every earlier
`before-call` hook run: the round-trip counters) to the emulator's door into moto (`botocore_stubber
.process_request`: the emulator's lock and its transaction tokens included), and reads the answer:

- a success whose body names no binary value and no null is `json.loads` of it, with the keys of the
  operation's output shape only, and the `ResponseMetadata` botocore's own parser gives such an answer;
- anything else (an error, binary, a null) is parsed by botocore's parser, with its modeled error fields,
  as botocore's endpoint does; botocore then raises the error as it always does.

What differs from botocore's send: a transient error (HTTP 5xx, throttling) is not retried after a backoff.
moto under the emulator's lock answers neither (a 500 is a bug of moto, and raises at once). Only DynamoDB's
data-plane operations to AWS's own endpoint take this path; a service pointed elsewhere
(`AWS_ENDPOINT_URL_DYNAMODB`) is sent as usual.

Installed by the replay engine (`loyalty_local.engine.Engine`, `direct=True`) only: the product, the local
stack's server and the tests' moto keep botocore's send. `tests/e2e/test_whatif_direct.py` replays a year
with it off and with every fast answer compared with botocore's parse, and requires the same outcome.
"""

from __future__ import annotations

import json
import os
from typing import Any
from urllib.parse import urlsplit

from loyalty_local.moto_fast import DATA_PLANE

OPERATIONS = DATA_PLANE["dynamodb"]
_state: dict[str, Any] = {"on": False, "checked": 0, "fast": 0}
CHECK = False  # tests: parse every fast answer by botocore's parser too, and fail on a difference


def _parser() -> Any:
    parser = _state.get("parser")
    if parser is None:
        from botocore.parsers import create_parser

        parser = _state["parser"] = create_parser("json")
    return parser


def botocore_parse(response: dict[str, Any], model: Any) -> dict[str, Any]:
    """What botocore's endpoint makes of an answer (`_do_get_response`): parsed by the output shape, and an
    error's modeled fields parsed by its error shape."""
    parser = _parser()
    parsed: dict[str, Any] = parser.parse(response, model.output_shape)
    if response["status_code"] >= 300:
        code = parsed.get("Error", {}).get("Code")
        shape = model.service_model.shape_for_error_code(code) if code is not None else None
        if shape is not None:
            parsed.update(parser.parse(response, shape))
    return parsed


def fast_parse(response: dict[str, Any], model: Any) -> dict[str, Any] | None:
    """A success without binary values or nulls: the body's own JSON, the output shape's keys only, and
    botocore's ResponseMetadata. None when botocore's parser must read it."""
    body = response["body"]
    if response["status_code"] != 200 or b'"B"' in body or b'"BS"' in body or b"null" in body:
        return None
    loaded = json.loads(body or b"{}")
    if not isinstance(loaded, dict):
        return None
    members = model.output_shape.members if model.output_shape is not None else {}
    parsed = {name: value for name, value in loaded.items() if name in members}
    parsed["ResponseMetadata"] = _parser().parse({**response, "body": b"{}"}, model.output_shape)["ResponseMetadata"]
    return parsed


def answer_in_process(model: Any = None, params: Any = None, context: Any = None, **_: Any) -> Any:
    """botocore's `before-call` hook (registered last): (http response, parsed answer) from moto, or None to
    let botocore send the call itself."""
    from botocore.awsrequest import AWSPreparedRequest, AWSResponse, HTTPHeaders
    from botocore.endpoint import convert_to_response_dict
    from moto.core.botocore_stubber import MockRawResponse
    from moto.core.models import botocore_stubber

    if not _state["on"] or model is None or params is None or model.name not in OPERATIONS:
        return None
    if model.service_model.service_name != "dynamodb" or os.environ.get("AWS_ENDPOINT_URL_DYNAMODB"):
        return None
    door = botocore_stubber.__dict__.get("process_request")  # the emulator's serialised door into moto
    url = str(params.get("url", ""))
    if door is None or not botocore_stubber.enabled or not (urlsplit(url).hostname or "").endswith(".amazonaws.com"):
        return None
    body = params.get("body") or b""
    if isinstance(body, str):
        body = body.encode("utf-8")
    headers = HTTPHeaders()
    for name, value in params["headers"].items():
        headers[name] = value
    request = AWSPreparedRequest(method=params["method"], url=url, headers=headers, body=body, stream_output=False)
    answered = door(request)
    if answered is None:
        return None
    status, answer_headers, content = answered
    http = AWSResponse(url, status, answer_headers, MockRawResponse(content))
    response = convert_to_response_dict(http, model)
    parsed = fast_parse(response, model)
    if parsed is None:
        return http, botocore_parse(response, model)
    _state["fast"] += 1
    if CHECK:
        expected = botocore_parse(response, model)
        if parsed != expected:
            raise AssertionError(f"{model.name}: the fast parse differs from botocore's: {parsed} != {expected}")
        _state["checked"] += 1
    return http, parsed


def install() -> None:
    """DynamoDB calls of every client made from now on answered in process (the engine's clients are made
    after it: `core.reset_clients()`)."""
    from botocore.handlers import BUILTIN_HANDLERS, REGISTER_LAST
    from loyalty.store import core

    spec = ("before-call.dynamodb", answer_in_process, REGISTER_LAST)
    if spec not in BUILTIN_HANDLERS:
        BUILTIN_HANDLERS.append(spec)
    _state["on"] = True
    core.reset_clients()


def uninstall() -> None:
    from botocore.handlers import BUILTIN_HANDLERS, REGISTER_LAST
    from loyalty.store import core

    spec = ("before-call.dynamodb", answer_in_process, REGISTER_LAST)
    if spec in BUILTIN_HANDLERS:
        BUILTIN_HANDLERS.remove(spec)
    _state["on"] = False
    core.reset_clients()


def counts() -> dict[str, int]:
    """Answers read the fast way, and how many of them were compared with botocore's parse (CHECK)."""
    return {"fast": int(_state["fast"]), "checked": int(_state["checked"])}
