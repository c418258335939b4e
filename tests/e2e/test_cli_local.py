"""`python -m loyalty ... --local <URL>` against `make run`'s stack: the API's URL is enough, and a wrong URL
is one line and exit code 2, never a traceback."""

from __future__ import annotations

import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.support.http import ROOT, LocalStackProcess, free_port


def loyalty(*args: str) -> subprocess.CompletedProcess[str]:
    env = {"PATH": "/usr/bin:/bin", "HOME": str(ROOT), "AWS_EC2_METADATA_DISABLED": "true"}  # no stray AWS setting
    return subprocess.run(
        [sys.executable, "-m", "loyalty", *args], cwd=ROOT, capture_output=True, text=True, timeout=120, env=env
    )


def emulator_url(stack: LocalStackProcess) -> str:
    found = re.search(r"for tools outside it: (http://127\.0\.0\.1:\d+)", stack.output_from_start())
    assert found
    return found.group(1)


def test_reconcile_and_keys_take_the_apis_url(stack, api):
    api.enroll("cli-local-1")
    done = loyalty("reconcile", "--local", api.base)
    assert done.returncode == 0, done.stderr
    assert re.search(r"reconciled \d+ members, \d+ entries: 0 differences", done.stdout), done.stdout
    keys = loyalty("keys", "list", "--local", api.base + "/")
    assert keys.returncode == 0 and "local checkout" in keys.stdout, keys.stderr


def test_the_emulators_own_url_still_works(stack, api):
    done = loyalty("reconcile", "--local", emulator_url(stack))
    assert done.returncode == 0 and "0 differences" in done.stdout, done.stderr


@pytest.fixture
def not_the_stack() -> Iterator[str]:
    """An HTTP server that answers everything with a 404 page: not a local stack, not an AWS endpoint."""

    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            page = b"<!DOCTYPE html>\n<html>\n<body>\n<h1>Not here</h1>\n</body>\n</html>\n"
            self.send_response(404)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(page)))
            self.end_headers()
            self.wfile.write(page)

        do_GET = do_POST = _answer

        def log_message(self, *_: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize("command", [["reconcile"], ["keys", "list"]])
def test_a_wrong_url_is_one_line_and_exit_code_2(not_the_stack, command):
    for wrong in (f"http://127.0.0.1:{free_port()}", "localhost:3000", "not a url", not_the_stack):
        done = loyalty(*command, "--local", wrong)
        assert done.returncode == 2, (wrong, done.stdout, done.stderr)
        assert "Traceback" not in done.stderr, (wrong, done.stderr)
        assert len(done.stderr.strip().splitlines()) == 1 and done.stderr.startswith("error: "), (wrong, done.stderr)
        assert done.stdout == "", (wrong, done.stdout)
