"""The back-office console's files (index.html, console.js, console.css), served by ProgramFunction at `/console`.

Plain ES modules and one stylesheet of our own: no build step, no framework, no third-party code, so a fresh
clone serves it with nothing but Python, and nothing is fetched from a CDN. The page talks only to the public
API of the same origin and, deployed, to the import bucket its Import page sends a file to; the
Content-Security-Policy below allows nothing else (no inline script, no other host).
"""

from __future__ import annotations

import os
from functools import cache
from importlib import resources

from loyalty.kernel.config import settings

FILES = {
    "console.js": "text/javascript; charset=utf-8",
    "console.css": "text/css; charset=utf-8",
}

POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'{uploads}; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)

SECURITY_HEADERS = {
    "Content-Security-Policy": POLICY.format(uploads=""),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",  # revalidated on each load: a deployment's new console is seen at once
}


def security_headers() -> dict[str, str]:
    """The headers the console's files are served with. The Import page sends a file with a plain PUT to the URL
    `POST /v1/imports` answers: deployed a presigned URL of the import bucket, so `connect-src` names that bucket's
    S3 hosts (the global and the regional one: boto3 signs either, by region), and nothing else of S3. Locally the
    URL is the stack's own origin (`UPLOAD_ENDPOINT_URL` is set): `'self'` covers it."""
    found = settings()
    if not found.import_bucket or found.upload_endpoint_url:
        return SECURITY_HEADERS
    bucket = found.import_bucket
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    hosts = [f"https://{bucket}.s3.amazonaws.com"] + ([f"https://{bucket}.s3.{region}.amazonaws.com"] if region else [])
    return {**SECURITY_HEADERS, "Content-Security-Policy": POLICY.format(uploads="".join(f" {h}" for h in hosts))}


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
