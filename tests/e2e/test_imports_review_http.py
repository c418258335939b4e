"""A second review of imports over HTTP (CONTRACT.md v1.2, "Import"): the local stack's upload URL accepts the PUT it
signed and nothing else, as S3 does."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

from tests.e2e.test_imports_http import put, unique
from tests.support.http import ADMIN, Client


def test_an_upload_url_puts_only_its_own_file(api: Client) -> None:
    mine, other = unique("imp"), unique("imp")
    url = api.post("/v1/imports", {"import_id": mine, "format": "jsonl"}, key=ADMIN).json["upload"]["url"]
    api.post("/v1/imports", {"import_id": other, "format": "jsonl"}, key=ADMIN)
    parts = urlsplit(url)
    assert parts.path.endswith(f"/imports/{mine}")
    # the signature of `mine` on another import's file, on a path that climbs out, on another bucket: refused
    for path in (
        parts.path.replace(f"/imports/{mine}", f"/imports/{other}"),
        parts.path.replace(f"/imports/{mine}", f"/imports/{mine}/../{other}"),
        parts.path.replace("/imports/", "x/imports/", 1),
    ):
        assert put(urlunsplit(parts._replace(path=path)), b"{}\n") == 403, path
    assert api.get(f"/v1/imports/{other}", key=ADMIN).json["status"] == "awaiting_upload"
    tampered = parts._replace(query=parts.query.replace("X-Amz-Expires=3600", "X-Amz-Expires=999999"))
    assert put(urlunsplit(tampered), b"{}\n") == 403  # a longer life than signed
    assert put(url, b"{}\n") == 200  # the URL itself
    assert api.get(f"/v1/imports/{mine}", key=ADMIN).json["status"] == "uploaded"
