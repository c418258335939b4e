"""The OpenAPI document of the whole API, generated from the functions' routes.

Each function has its own resolver, and a Lambda package holds only its own function, so the document
is generated at development time (`python -m loyalty_local.openapi_gen`) into `openapi.json` beside
this module; a test fails when it is out of date with the code.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from importlib.util import find_spec
from pathlib import Path
from typing import Any


@cache
def document() -> dict[str, Any]:
    return dict(json.loads(resources.files("loyalty").joinpath("openapi.json").read_text(encoding="utf-8")))


# Swagger UI for /docs, from the pinned PyPI package swagger-ui-py (swagger-ui-dist's files, Apache-2.0, its
# LICENSE served beside them): locally from the venv, deployed from ProgramFunction's docs layer (layers/docs,
# which keeps only these files). Never a CDN: the page works offline. Paths are relative, so behind API
# Gateway's stage prefix (`/dev/docs`) they stay under the stage; the document's `servers` is set to the
# page's own base for "Try it out", and the bearer key given to "Authorize" lives in the page only.
ASSETS = {
    "swagger-ui.css": "text/css; charset=utf-8",
    "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
    "LICENSE": "text/plain; charset=utf-8",
}

SWAGGER_HTML = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Loyalty API</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<link rel="stylesheet" href="docs/swagger-ui.css"></head>
<body><div id="ui"></div>
<script src="docs/swagger-ui-bundle.js"></script>
<script>
const base = new URL(".", window.location.href).href.replace(/[/]$/, "");
fetch(base + "/openapi.json").then((answer) => answer.json()).then((spec) => {
  spec.servers = [{url: base}];
  window.ui = SwaggerUIBundle({spec, dom_id: "#ui", persistAuthorization: false, deepLinking: true});
});
</script>
<footer style="font: 12px sans-serif; margin: 1em 2em">Swagger UI &middot; <a href="docs/LICENSE">licence</a></footer>
</body></html>
"""


class AssetNotFound(LookupError):
    pass


@cache
def asset(name: str) -> tuple[str, str]:
    """The text and content type of one Swagger UI file, read once per execution environment."""
    if name not in ASSETS:
        raise AssetNotFound(name)
    spec = find_spec("swagger_ui")  # located, never imported: its __init__ needs jinja2, which is not shipped
    for folder in (spec.submodule_search_locations or []) if spec else []:
        path = Path(folder) / "static" / name
        if path.is_file():
            return path.read_text(encoding="utf-8"), ASSETS[name]
    raise AssetNotFound(name)
