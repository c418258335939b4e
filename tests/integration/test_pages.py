"""The way in: the API's root and `/console/` lead to the console, wherever the API is served from.

API Gateway hands `/console/` to the `/console` route (a REST API ignores a trailing slash), where the
console's relative links (`console/console.js`) would point one level too deep (so with `/docs/` and Swagger
UI's); and `/` is the stage's root.
Deployed, the stage is a prefix of the URL (`/Prod/`), or it is not (a custom domain): the redirect is
relative to what the browser asked for, so it lands on the console in every case.
"""

from __future__ import annotations

import copy
from typing import Any
from urllib.parse import urljoin

import pytest

from tests.support.aws import headers_of, invoke, load_event

HOST = "https://abc123.execute-api.us-east-1.amazonaws.com"


def page_event(name: str, path: str, asked: str) -> dict[str, Any]:
    """The route's sample event for `path`, as a browser that asked for `asked` (requestContext.path) sends it."""
    event = copy.deepcopy(load_event(name))
    event["path"] = path
    event["requestContext"]["path"] = asked
    return event


@pytest.mark.parametrize(
    ("name", "path", "asked", "console"),
    [
        ("Root", "/", "/Prod/", "/Prod/console"),
        ("Root", "/", "/Prod", "/Prod/console"),  # the stage's URL without its slash
        ("Root", "/", "/", "/console"),  # a custom domain, no base path
        ("Root", "/", "/loyalty", "/loyalty/console"),  # a custom domain's base path
        ("Console", "/console/", "/Prod/console/", "/Prod/console"),
        ("Console", "/console/", "/console/", "/console"),
        ("Docs", "/docs/", "/Prod/docs/", "/Prod/docs"),  # Swagger UI's page links its files the same way
    ],
)
def test_the_root_and_a_pages_slash_redirect_to_the_page(aws, name, path, asked, console):
    answer = invoke("ProgramFunction", page_event(name, path, asked))
    assert answer["statusCode"] == 302, answer
    assert urljoin(HOST + asked, headers_of(answer)["Location"]) == HOST + console


def test_the_console_itself_is_still_the_page(aws):
    answer = invoke("ProgramFunction", page_event("Console", "/console", "/Prod/console"))
    assert answer["statusCode"] == 200 and headers_of(answer)["Content-Type"].startswith("text/html")
