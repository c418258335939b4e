"""The import command's own transport and progress (`loyalty.edge.cli_import`), without a stack: the upload is a
plain PUT of the file streamed from disk with its Content-Length and no key; the bar is redrawn in place on a
terminal and a line per 10 % in a log. The command against the API: tests/e2e/test_cli_import.py."""

from __future__ import annotations

import io
import socket
import subprocess
import sys
import threading
import tracemalloc
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from loyalty.edge import cli_import

from tests.support.http import ROOT


@pytest.fixture
def bucket() -> Iterator[tuple[str, dict[str, Any]]]:
    """Where an upload URL points: it keeps the request's method, path, headers and the body's length and lines."""
    seen: dict[str, Any] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_PUT(self) -> None:
            left = int(self.headers["Content-Length"])
            seen.update(method="PUT", path=self.path, headers=dict(self.headers.items()), length=0, lines=0)
            while left:
                block = self.rfile.read(min(left, 65536))
                left -= len(block)
                seen["length"] += len(block)
                seen["lines"] += block.count(b"\n")
            refused = "refuse" in self.path
            page = b"<Error><Code>SignatureDoesNotMatch</Code><Message>The signature does not match</Message></Error>"
            self.send_response(403 if refused else 200)
            self.send_header("Content-Length", str(len(page) if refused else 0))
            self.end_headers()
            if refused:
                self.wfile.write(page)

        def log_message(self, *_: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", seen
    server.shutdown()
    server.server_close()


def test_the_upload_streams_the_file_with_its_length_and_no_key(bucket, tmp_path):
    base, seen = bucket
    path = tmp_path / "big.csv"
    line = b"m-000001,a@example.com,,,Ana,,2025-01-01T00:00:00Z,active,,100,\n"
    with path.open("wb") as f:
        f.write(b"member_id,email,phone,card_id,name,birth_date,enrolled_at,status,tier,points,expires\n")
        for _ in range(400_000):  # about 26 MB
            f.write(line)
    tracemalloc.start()
    try:
        rows = cli_import._upload({"method": "PUT", "url": f"{base}/b/k.csv?X-Amz-Signature=abc"}, path, header=True)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert rows == 400_000
    assert seen["path"] == "/b/k.csv?X-Amz-Signature=abc"
    assert seen["headers"]["Content-Length"] == str(path.stat().st_size) == str(seen["length"])
    assert "Authorization" not in seen["headers"]  # the URL carries its own signature
    assert "Transfer-Encoding" not in seen["headers"]
    assert peak < 4_000_000, f"the upload held {peak:,} bytes at once: the file was read whole"


def test_a_last_line_without_a_newline_is_a_row(bucket, tmp_path):
    base, _ = bucket
    path = tmp_path / "m.jsonl"
    path.write_bytes(b'{"member_id": "a"}\n{"member_id": "b"}')
    assert cli_import._upload({"method": "PUT", "url": f"{base}/b/k"}, path, header=False) == 2


def test_a_refused_upload_says_s3s_code_in_one_line(bucket, tmp_path):
    base, _ = bucket
    path = tmp_path / "m.jsonl"
    path.write_bytes(b"{}\n")
    with pytest.raises(cli_import.CommandError) as refused:
        cli_import._upload({"method": "PUT", "url": f"{base}/refuse"}, path, header=False)
    assert str(refused.value) == "the upload was refused (403): SignatureDoesNotMatch: The signature does not match"


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_the_bar_is_a_line_per_ten_percent_in_a_log():
    log = io.StringIO()
    bar = cli_import.Progress("validating", stream=log)
    for done in range(0, 1001, 7):
        bar.show(done, 1000)
    bar.finish(1000)
    lines = log.getvalue().splitlines()
    assert [line.split("] ")[1].split("%")[0].strip() for line in lines] == [str(p) for p in range(0, 101, 10)]
    assert lines[-1] == "validating [" + "#" * 30 + "] 100% 1,000/1,000 rows"
    assert "\r" not in log.getvalue()


def test_the_bar_is_redrawn_in_place_on_a_terminal():
    screen = Terminal()
    bar = cli_import.Progress("applying", stream=screen)
    bar.show(1, 4)
    bar.show(2, 4)
    bar.finish(4)
    drawn = screen.getvalue()
    assert drawn.count("\r") == 3 and drawn.endswith("\n") and drawn.count("\n") == 1
    assert "[#######-----------------------]  25% 1/4 rows" in drawn
    assert drawn.rstrip("\n").rsplit("\r", 1)[1].startswith("applying [" + "#" * 30 + "] 100% 4/4 rows")


def test_an_empty_file_still_finishes_at_100_percent():
    log = io.StringIO()
    cli_import.Progress("validating", stream=log).finish(0)
    assert log.getvalue() == "validating [" + "#" * 30 + "] 100% 0/0 rows\n"


def test_the_import_command_needs_only_the_standard_library(tmp_path):
    """`python -S` (no site-packages: no pydantic, boto3, requests): the command still runs to the API's door."""
    path = tmp_path / "m.jsonl"
    path.write_bytes(b"{}\n")
    port = socket.socket()
    port.bind(("127.0.0.1", 0))
    url = f"http://127.0.0.1:{port.getsockname()[1]}"  # bound, never listening: nothing answers
    done = subprocess.run(
        [sys.executable, "-S", "-m", "loyalty.cli", "import", str(path), "--url", url],
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT / "layers/loyalty")},
        capture_output=True,
        text=True,
        timeout=60,
    )
    port.close()
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith(f"error: nothing answers at {url}") and done.stderr.count("\n") == 1, done.stderr
