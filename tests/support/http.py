"""End-to-end plumbing: the local stack as a user starts it, and a small HTTP client."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
CHECKOUT = "lk_local_checkout"
ADMIN = "lk_local_admin"


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    raw: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.raw) if self.raw else None


class Client:
    def __init__(self, base: str) -> None:
        self.base = base

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        key: str | None = CHECKOUT,
        headers: dict[str, str] | None = None,
        raw: bytes | None = None,
        timeout: float = 30,
    ) -> Answer:
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        sent = {"Content-Type": "application/json", **(headers or {})}
        if key:
            sent["Authorization"] = f"Bearer {key}"
        req = urllib.request.Request(self.base + path, data=data, method=method, headers=sent)
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:
                return Answer(resp.status, dict(resp.headers.items()), resp.read())
        except urllib.error.HTTPError as err:
            return Answer(err.code, dict(err.headers.items()), err.read())

    def get(self, path: str, **kw: Any) -> Answer:
        return self.request("GET", path, **kw)

    def post(self, path: str, body: Any = None, **kw: Any) -> Answer:
        return self.request("POST", path, body if body is not None else {}, **kw)

    def set_clock(self, now: str | None) -> None:
        answer = self.post("/_local/clock", {"now": now}, key=None)
        assert answer.status == 200, answer.raw

    def enroll(self, member_id: str, **extra: Any) -> Any:
        answer = self.post("/v1/members", {"member_id": member_id, "channel": "web", **extra})
        assert answer.status == 201, answer.raw
        return answer.json


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class LocalStackProcess:
    """`python -m loyalty_local` in a subprocess, as `make run` starts it."""

    def __init__(self, *extra_args: str, env: dict[str, str] | None = None) -> None:
        self.port = free_port()
        log_path = ROOT / ".venv" / f"local-stack-{self.port}.log" if (ROOT / ".venv").is_dir() else os.devnull
        self.log = open(log_path, "w+b")  # noqa: SIM115 - kept open for the process's lifetime
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "loyalty_local", "--port", str(self.port), *extra_args],
            cwd=ROOT,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            env={**os.environ, **(env or {}), "PYTHONUNBUFFERED": "1"},
        )
        self.client = Client(f"http://127.0.0.1:{self.port}")
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the local stack exited: {self.output()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError("the local stack did not start in 60 s")

    def table_items(self) -> list[dict[str, Any]]:
        """Every item of every table of the stack's embedded AWS, read through its loopback door (whose
        address the stack prints at start, for tools outside it)."""
        import re

        import boto3
        from boto3.dynamodb.types import TypeDeserializer

        found = re.search(r"for tools outside it: (http://127\.0\.0\.1:\d+)", self.output_from_start())
        assert found, self.output()
        dynamodb = boto3.client(
            "dynamodb",
            endpoint_url=found.group(1),
            region_name="us-east-1",
            aws_access_key_id="local",
            aws_secret_access_key="local",
        )
        plain = TypeDeserializer()
        items: list[dict[str, Any]] = []
        for table in dynamodb.list_tables()["TableNames"]:
            for page in dynamodb.get_paginator("scan").paginate(TableName=table):
                items.extend({k: plain.deserialize(v) for k, v in i.items()} for i in page["Items"])
        return items

    def output_from_start(self) -> str:
        self.log.flush()
        self.log.seek(0)
        text = self.log.read().decode(errors="replace")
        self.log.seek(0, os.SEEK_END)
        return text

    def output(self) -> str:
        self.log.flush()
        self.log.seek(0)
        return self.log.read().decode(errors="replace")[-4000:]

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self.log.close()
