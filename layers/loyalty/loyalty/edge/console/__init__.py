"""The back-office console's files (index.html, console.js, console.css), served by ProgramFunction at `/console`.

Plain ES modules and one stylesheet of our own: no build step, no framework, no third-party code, so a fresh
clone serves it with nothing but Python, and nothing is fetched from a CDN. The page talks only to the public
API of the same origin; the Content-Security-Policy below allows nothing else (no inline script, no other host).
"""

from __future__ import annotations

from functools import cache
from importlib import resources

FILES = {
    "console.js": "text/javascript; charset=utf-8",
    "console.css": "text/css; charset=utf-8",
}

SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
        "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",  # revalidated on each load: a deployment's new console is seen at once
}


class AssetNotFound(LookupError):
    pass


@cache
def page() -> str:
    return resources.files(__name__).joinpath("index.html").read_text(encoding="utf-8")


@cache
def asset(name: str) -> tuple[str, str]:
    """The text and content type of one of the console's files."""
    if name not in FILES:
        raise AssetNotFound(name)
    return resources.files(__name__).joinpath(name).read_text(encoding="utf-8"), FILES[name]
