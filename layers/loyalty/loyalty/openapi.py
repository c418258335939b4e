"""The OpenAPI document of the whole API, generated from the functions' routes.

Each function has its own resolver, and a Lambda package holds only its own function, so the document
is generated at development time (`python -m loyalty_local.openapi_gen`) into `openapi.json` beside
this module; a test fails when it is out of date with the code.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any


@cache
def document() -> dict[str, Any]:
    return dict(json.loads(resources.files("loyalty").joinpath("openapi.json").read_text(encoding="utf-8")))


SWAGGER_HTML = """<!doctype html>
<html><head><meta charset="utf-8"><title>Loyalty API</title>
<link rel="stylesheet" href="https://unpkg.com/swagger-ui-dist@5/swagger-ui.css"></head>
<body><div id="ui"></div>
<script src="https://unpkg.com/swagger-ui-dist@5/swagger-ui-bundle.js"></script>
<script>SwaggerUIBundle({url: "openapi.json", dom_id: "#ui"});</script>
</body></html>
"""
