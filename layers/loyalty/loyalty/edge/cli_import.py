"""`python -m loyalty.cli import FILE`: bring an existing programme's members in through the API (contract v1.2,
Import), checked first and applied second, as docs/imports.md walks it.

It speaks HTTP only (stdlib urllib and http.client: the operator's machine needs no AWS credentials and no
other package), with an admin key: create the import, PUT the file to the upload URL the API gives (streamed
from disk, no Authorization header: the URL carries its own signature), validate, show the counts and the first
errors, then apply with `--yes`. Without `--yes` it stops after validation and prints the command that applies,
so an apply is never one keystroke away from a validation nobody read. `--resume ID` carries an existing import
on from its status. Exit code: 0 applied (or valid) with no rejected row, 1 some rows rejected (the valid ones
applied anyway), 2 an error, in one line on stderr (the API's code and message).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any
from urllib.parse import quote, urlsplit

DEFAULT_URL = "http://127.0.0.1:3000"
DEFAULT_KEY = "lk_local_admin"
FORMATS = {".jsonl": "jsonl", ".ndjson": "jsonl", ".csv": "csv"}
SHOWN_ERRORS = 20
POLL_SECONDS = 0.5
UPLOAD_WAIT_SECONDS = 60  # deployed, the upload may reach the import a moment after S3 said 200
_ID_CHARACTERS = re.compile(r"[^A-Za-z0-9._:@-]+")


class CommandError(Exception):
    """The import cannot go on: the message says why, in one line."""


class ApiError(CommandError):
    """The API answered with an error: its code and message, as the contract's error shape carries them."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.status = status
        self.code = code


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", nargs="?", help="the JSONL or CSV file")
    parser.add_argument("--id", help="the import's id (default: the file's name and the time)")
    parser.add_argument("--format", choices=sorted(set(FORMATS.values())), help="default: from the extension")
    parser.add_argument("--url", default=os.environ.get("LOYALTY_URL") or DEFAULT_URL, help="the API (LOYALTY_URL)")
    parser.add_argument(
        "--key", default=os.environ.get("LOYALTY_KEY") or DEFAULT_KEY, help="an admin key (LOYALTY_KEY)"
    )
    parser.add_argument("--validate-only", action="store_true", help="check the file, never apply (even with --yes)")
    parser.add_argument("--yes", action="store_true", help="apply once validated, without stopping")
    parser.add_argument("--resume", metavar="ID", help="carry an existing import on from its status")
    parser.add_argument("--errors", metavar="ID", help="list every rejected row of an import")


def run(args: argparse.Namespace) -> int:
    try:
        return _run(args)
    except CommandError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # `--errors ID | head`: the reader has what it wanted
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # and no second error as Python exits
        return 1
    except KeyboardInterrupt:
        again = f"`{_again(args, '--resume', args.resume or '<import_id>')}` carries it on"
        print(f"\ninterrupted: the import goes on without this command; {again}", file=sys.stderr)
        return 2


def _run(args: argparse.Namespace) -> int:
    api = Api(args.url, args.key)
    if args.errors:
        return _list_errors(api, args.errors)
    if args.resume:
        found = api.call("GET", f"/v1/imports/{quote(args.resume, safe='')}")
    elif not args.file:
        raise CommandError("import needs a FILE (or --resume ID, or --errors ID)")
    else:
        found = _create(api, args)
    return _carry_on(api, args, found)


def _create(api: Api, args: argparse.Namespace) -> dict[str, Any]:
    path = Path(args.file)
    if not path.is_file():
        raise CommandError(f"no file {args.file}")
    form = args.format or FORMATS.get(path.suffix.lower())
    if form is None:
        raise CommandError(f"cannot tell the format of {path.name} from its extension: give --format jsonl or csv")
    from loyalty.kernel.clock import utcnow

    import_id = args.id or _ID_CHARACTERS.sub("-", path.stem)[:112].strip("-") + utcnow().strftime("-%Y%m%d-%H%M%S")
    status, created = api.request("POST", "/v1/imports", {"import_id": import_id, "format": form})
    if status == 201:
        print(f"created import {created['import_id']} ({form})")
        return created
    # the same id and format again: the API replays its first answer; carry the import on from where it is now
    found = api.call("GET", f"/v1/imports/{quote(import_id, safe='')}")
    print(f"import {import_id} exists ({found['status']}): carrying it on")
    return {**found, "upload": created.get("upload")}


def _carry_on(api: Api, args: argparse.Namespace, found: dict[str, Any]) -> int:
    import_id = str(found["import_id"])
    args.resume = import_id  # what an interruption says to carry it on with
    where = f"/v1/imports/{quote(import_id, safe='')}"
    status = found["status"]
    expected: int | None = None  # rows in the file, for the validation's bar (unknown when resumed without it)
    if status == "awaiting_upload":
        if not args.file or not found.get("upload"):  # only its creation gives the upload URL
            raise CommandError(f"import {import_id} never had its file: start a new import, `import FILE`")
        expected = _upload(found["upload"], Path(args.file), found.get("format") == "csv")
        status = "uploaded"
    if status == "uploaded":
        _ask(api, where + "/validate")
        status = "validating"
    if status == "validating":
        found = _wait(api, where, "validating", expected, lambda rows: rows["valid"] + rows["rejected"])
        status = found["status"]
    else:
        found = api.call("GET", where)
        status = found["status"]
    if status == "failed":
        raise CommandError(f"import {import_id} failed: {found.get('failed_reason') or 'no reason given'}")
    rows = found["rows"]
    print(
        f"checked {_count(rows['total'], 'row')}: {rows['valid']:,} valid, {rows['rejected']:,} rejected; "
        f"{found['points']['total']:,} points in the valid rows' balances"
    )
    _show_errors(api, args, import_id, rows["rejected"])
    if status == "validated":
        if args.validate_only or not args.yes:
            apply = _again(args, "--resume", import_id, "--yes")
            print(f"nothing applied yet; to apply the {_count(rows['valid'], 'valid row')}: {apply}")
            return 1 if rows["rejected"] else 0
        _ask(api, where + "/apply")
        status = "applying"
    if status == "applying":
        found = _wait(api, where, "applying", rows["valid"], lambda rows: rows["applied"] + rows["skipped"])
        status = found["status"]
    if status != "applied":
        raise CommandError(f"import {import_id} {status}: {found.get('failed_reason') or 'no reason given'}")
    rows = found["rows"]
    print(
        f"applied import {import_id}: {_count(rows['applied'], 'member')} in, "
        f"{rows['skipped']:,} skipped (already in), {rows['rejected']:,} rejected, {found['points']['total']:,} points"
    )
    return 1 if rows["rejected"] else 0


def _count(n: int, thing: str) -> str:
    return f"{n:,} {thing}" + ("" if n == 1 else "s")


def _ask(api: Api, path: str) -> None:
    """validate or apply; right after an upload the import may not know of its file yet (deployed, S3 tells it)."""
    deadline = time.monotonic() + UPLOAD_WAIT_SECONDS
    while True:
        try:
            api.call("POST", path)
            return
        except ApiError as exc:
            if exc.code != "invalid_state" or not path.endswith("/validate") or time.monotonic() > deadline:
                raise
            time.sleep(POLL_SECONDS)


def _wait(
    api: Api, where: str, running: str, expected: int | None, done: Callable[[dict[str, int]], int]
) -> dict[str, Any]:
    bar = Progress(running)
    while True:
        found = api.call("GET", where)
        if found["status"] != running:
            bar.finish(done(found["rows"]), complete=found["status"] != "failed")
            return found
        bar.show(done(found["rows"]), expected)
        time.sleep(POLL_SECONDS)


def _upload(upload: dict[str, Any], path: Path, header: bool) -> int:
    """PUT the file where the API said, streamed from disk with its Content-Length; the rows it holds."""
    split = urlsplit(upload["url"])
    if split.scheme not in ("http", "https") or not split.hostname:
        raise CommandError(f"the API gave an upload URL that is not one: {upload['url']!r}")
    size = path.stat().st_size
    connection_type = http.client.HTTPSConnection if split.scheme == "https" else http.client.HTTPConnection
    connection = connection_type(split.hostname, split.port, timeout=60)
    target = split.path + (f"?{split.query}" if split.query else "")
    bar = Progress("uploading", unit="bytes")
    try:
        with path.open("rb") as file:
            reader = _CountingReader(file, lambda sent: bar.show(sent, size))
            connection.request(upload.get("method", "PUT"), target, body=reader, headers={"Content-Length": str(size)})
            answer = connection.getresponse()
            said = answer.read()
    except OSError as exc:
        raise CommandError(f"the upload to {split.hostname} failed: {exc}") from None
    finally:
        connection.close()
    if not 200 <= answer.status < 300:
        raise CommandError(f"the upload was refused ({answer.status}): {_said(said)}")
    bar.finish(size)
    return max(reader.lines - (1 if header else 0), 0)


class _CountingReader:
    """The file as http.client reads it, block by block: the bytes sent so far and the lines among them."""

    def __init__(self, file: IO[bytes], sent: Callable[[int], None]) -> None:
        self.file, self.sent, self.bytes, self.lines, self._last = file, sent, 0, 0, b"\n"

    def read(self, size: int = -1) -> bytes:
        block = self.file.read(size)
        if block:
            self.bytes += len(block)
            self.lines += block.count(b"\n")
            self._last = block[-1:]
            self.sent(self.bytes)
        elif self._last != b"\n":  # the last line had no newline
            self.lines += 1
            self._last = b"\n"
        return block


def _said(body: bytes) -> str:
    """An upload's refusal in one line: S3's XML <Code> and <Message>, the contract's error shape, or its text."""
    text = body.decode(errors="replace")
    code, message = re.search(r"<Code>(.*?)</Code>", text), re.search(r"<Message>(.*?)</Message>", text)
    if code:
        return code.group(1) + (f": {message.group(1)}" if message else "")
    try:
        error = json.loads(text)["error"]
        return f"{error['code']}: {error['message']}"
    except (ValueError, KeyError, TypeError):
        return " ".join(text.split())[:200] or "no answer"


def _show_errors(api: Api, args: argparse.Namespace, import_id: str, rejected: int) -> None:
    if not rejected:
        return
    page = api.call("GET", f"/v1/imports/{quote(import_id, safe='')}/errors?limit={SHOWN_ERRORS}")
    errors = page["errors"]
    print(f"rejected rows (the first {len(errors)} of {rejected:,}):" if rejected > len(errors) else "rejected rows:")
    _print_errors(errors)
    if rejected > len(errors):
        print(f"every rejected row: {_again(args, '--errors', import_id)}")


def _list_errors(api: Api, import_id: str) -> int:
    where = f"/v1/imports/{quote(import_id, safe='')}/errors?limit=100"
    page = api.call("GET", where)
    _print_errors(page["errors"])
    while page.get("next_cursor"):
        page = api.call("GET", f"{where}&cursor={quote(page['next_cursor'], safe='')}")
        _print_errors(page["errors"])
    return 0


def _print_errors(errors: list[dict[str, Any]]) -> None:
    """One line a rejected row: its line in the file, the code, the field (`-`: none), the message (less the
    field's name it starts with), and the member when the row named one."""
    wide = max((len(e.get("field") or "-") for e in errors), default=1)
    for e in errors:
        field = e.get("field") or "-"
        message = str(e["message"]).removeprefix(f"{field}: ")
        member = f" (member {e['member_id']})" if e.get("member_id") else ""
        print(f"  row {e['row']:<6} {e['code']:<18} {field:<{wide}}  {message}{member}")


def _again(args: argparse.Namespace, *extra: str) -> str:
    """This command again, pointed at the same API, for what to run next."""
    words = ["python -m loyalty.cli import", *extra]
    if args.url != (os.environ.get("LOYALTY_URL") or DEFAULT_URL):
        words += ["--url", args.url]
    if args.key != (os.environ.get("LOYALTY_KEY") or DEFAULT_KEY):
        words += ["--key", "<your admin key>"]  # never echoed: the key stays off the screen and out of logs
    return " ".join(words)


class Progress:
    """A plain text bar on stderr: redrawn in place (`\\r`) on a terminal, one line per 10 % otherwise (a log)."""

    WIDTH = 30

    def __init__(self, label: str, unit: str = "rows", stream: IO[str] | None = None) -> None:
        self.label, self.unit = label, unit
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()
        self.decile = -1

    def show(self, done: int, total: int | None) -> None:
        if not total:
            if self.tty:
                self._draw(f"{self.label} {self._amount(done)}")
            return
        self._line(min(done / total, 1.0), done, total)

    def finish(self, done: int, complete: bool = True) -> None:
        """All done: 100 %, whatever the last figures were (an empty file too); not complete (failed): the bar
        stays where it was."""
        if complete:
            self._line(1.0, done, done)
        if self.tty:
            print(file=self.stream, flush=True)

    def _line(self, fraction: float, done: int, total: int) -> None:
        filled = int(fraction * self.WIDTH)
        percent = int(fraction * 100)
        line = f"{self.label} [{'#' * filled}{'-' * (self.WIDTH - filled)}] {percent:3d}% {self._amount(done, total)}"
        if self.tty:
            self._draw(line)
        elif percent // 10 > self.decile:
            self.decile = percent // 10
            print(line, file=self.stream, flush=True)

    def _draw(self, line: str) -> None:
        self.stream.write(f"\r{line}\x1b[K")
        self.stream.flush()

    def _amount(self, done: int, total: int | None = None) -> str:
        if self.unit == "bytes":
            scale, name = (1e6, "MB") if (total or done) >= 1e6 else (1e3, "kB")
            return f"{done / scale:,.1f}" + (f"/{total / scale:,.1f}" if total else "") + f" {name}"
        return f"{done:,}" + (f"/{total:,}" if total is not None else "") + f" {self.unit}"


class Api:
    """The loyalty API with one key: JSON in and out, an error answer raised as ApiError in one line."""

    def __init__(self, base: str, key: str) -> None:
        split = urlsplit(base)
        if split.scheme not in ("http", "https") or not split.hostname:
            raise CommandError(f"--url {base!r} is not a URL; e.g. http://127.0.0.1:3000")
        self.base, self.key = base.rstrip("/"), key

    def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        return self.request(method, path, body)[1]

    def request(self, method: str, path: str, body: dict[str, Any] | None = None) -> tuple[int, dict[str, Any]]:
        """The answer's status and body; an error answer raised."""
        data = json.dumps(body if body is not None else {}).encode() if method == "POST" else None
        headers = {"Authorization": f"Bearer {self.key}", "Accept": "application/json"}
        if data is not None:
            headers["Content-Type"] = "application/json"
        request = urllib.request.Request(self.base + path, data=data, method=method, headers=headers)  # noqa: S310
        try:
            with urllib.request.urlopen(request, timeout=30) as answer:  # noqa: S310 - http(s) only, checked above
                status, said = answer.status, answer.read()
        except urllib.error.HTTPError as exc:
            raise _refusal(exc.code, exc.read()) from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise CommandError(f"nothing answers at {self.base} ({reason}); is the API there?") from None
        try:
            found = json.loads(said) if said else {}
        except ValueError:
            raise CommandError(
                f"{self.base} answered {method} {path} with something not JSON: is it the API?"
            ) from None
        if not isinstance(found, dict):
            raise CommandError(f"{self.base} answered {method} {path} with something not an object: is it the API?")
        return status, found


def _refusal(status: int, body: bytes) -> CommandError:
    try:
        error = json.loads(body)["error"]
        return ApiError(status, str(error["code"]), str(error["message"]))
    except (ValueError, KeyError, TypeError):
        return ApiError(status, f"http_{status}", " ".join(body.decode(errors="replace").split())[:200] or "no body")
