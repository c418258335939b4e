"""A second review of imports over HTTP (CONTRACT.md v1.2, "Import"): the local stack's upload URL accepts the PUT it
signed and nothing else, as S3 does."""

from __future__ import annotations

import socket
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


def test_an_upload_with_a_negative_content_length_is_refused_at_once(api: Client) -> None:
    # a negative length made the route read the connection to its end: the PUT hung until the client gave up
    import_id = unique("imp")
    url = api.post("/v1/imports", {"import_id": import_id, "format": "jsonl"}, key=ADMIN).json["upload"]["url"]
    parts = urlsplit(url)
    with socket.create_connection((parts.hostname, parts.port), timeout=5) as conn:
        head = f"PUT {parts.path}?{parts.query} HTTP/1.1\r\nHost: {parts.netloc}\r\nContent-Length: -1\r\n\r\n"
        conn.sendall(head.encode() + b"{}\n")
        try:
            answer = conn.recv(4096)
        except TimeoutError:
            answer = b"(no answer in 5 s)"
    assert answer.startswith(b"HTTP/1.1 400"), answer[:80]
    assert api.get(f"/v1/imports/{import_id}", key=ADMIN).json["status"] == "awaiting_upload"


def test_a_refused_upload_closes_its_connection_so_its_body_is_never_read_as_a_request(api: Client) -> None:
    # refused before its body is read, the body stayed on the kept-alive connection and was served as the next
    # request (here, a GET smuggled in the body of a PUT whose signature is wrong)
    import_id = unique("imp")
    url = api.post("/v1/imports", {"import_id": import_id, "format": "jsonl"}, key=ADMIN).json["upload"]["url"]
    parts = urlsplit(url)
    query = parts.query.replace("X-Amz-Expires=3600", "X-Amz-Expires=3601")
    smuggled = f"GET /v1/program HTTP/1.1\r\nHost: {parts.netloc}\r\n\r\n".encode()
    head = f"PUT {parts.path}?{query} HTTP/1.1\r\nHost: {parts.netloc}\r\nContent-Length: {len(smuggled)}\r\n\r\n"
    received = b""
    with socket.create_connection((parts.hostname, parts.port), timeout=3) as conn:
        conn.sendall(head.encode() + smuggled)
        try:
            while piece := conn.recv(65536):
                received += piece
        except TimeoutError:
            pass
    assert received.startswith(b"HTTP/1.1 403")
    assert received.count(b"HTTP/1.1 ") == 1, received
