"""HTTP to the loyalty API: bearer keys, partner signatures, and retries that idempotency makes safe."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any

CHECKOUT = "lk_local_checkout"
ADMIN = "lk_local_admin"
RETRIED = {429, 502, 503, 504}
POINTS = (
    "available",
    "pending",
    "lifetime_earned",
    "lifetime_redeemed",
    "lifetime_expired",
)  # busy or unreachable: every write the simulator sends is idempotent


@dataclass(frozen=True)
class Answer:
    status: int
    body: Any
    replayed: bool = False  # `Idempotent-Replayed: true`: the write had been made once already

    @property
    def code(self) -> str | None:
        """The contract's error code, for an error answer."""
        if isinstance(self.body, dict) and isinstance(self.body.get("error"), dict):
            return str(self.body["error"].get("code"))
        return None


class ApiError(RuntimeError):
    """The API could not be reached, or kept answering 5xx."""


class Client:
    def __init__(self, base: str, *, timeout: float = 120, attempts: int = 5) -> None:
        if not base.startswith(("http://", "https://")):
            raise ValueError(f"not an http(s) URL: {base!r}")
        self.base = base.rstrip("/")
        self.timeout = timeout
        self.attempts = attempts
        self.retried: list[str] = []  # why requests were sent again (a 5xx, a dropped connection)
        self._lock = threading.Lock()

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        key: str | None = CHECKOUT,
        headers: dict[str, str] | None = None,
        raw: bytes | None = None,
    ) -> Answer:
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        sent = {"Content-Type": "application/json", **(headers or {})}
        if key:
            sent["Authorization"] = f"Bearer {key}"
        return self.exchange(method, path, data, sent)

    def exchange(self, method: str, path: str, data: bytes | None, sent: dict[str, str]) -> Answer:
        """One request over HTTP, sent again (the same bytes) after a 5xx that idempotency makes safe."""
        last = ""
        for attempt in range(self.attempts):
            # the base URL is the local stack's, http: (checked in __init__)
            req = urllib.request.Request(self.base + path, data=data, method=method, headers=sent)  # noqa: S310
            try:
                with urllib.request.urlopen(req, timeout=self.timeout) as resp:  # noqa: S310
                    replayed = resp.headers.get("Idempotent-Replayed") == "true"
                    return Answer(resp.status, _json(resp.read()), replayed)
            except urllib.error.HTTPError as err:
                answer = Answer(err.code, _json(err.read()))
                if err.code not in RETRIED:
                    return answer
                last = f"{err.code} {answer.body}"
            except (urllib.error.URLError, ConnectionError, TimeoutError) as err:
                last = str(err)
            with self._lock:
                self.retried.append(f"{method} {path}: {last}"[:300])
            time.sleep(0.2 * 2**attempt)
        raise ApiError(f"{method} {path}: no answer after {self.attempts} attempts: {last}")

    def member_views(self, member_ids: list[str]) -> dict[str, dict[str, Any]] | None:
        """The members' figures in one pass, when the client can read them so (None: GET each one)."""
        return None

    def ledger_sums(self) -> dict[str, int] | None:
        """Every member's ledger summed, when the client can read them in one pass (None: page by page)."""
        return None

    def get(self, path: str, **kw: Any) -> Answer:
        return self.request("GET", path, **kw)

    def post(self, path: str, body: Any, **kw: Any) -> Answer:
        return self.request("POST", path, body, **kw)

    def partner_post(self, partner_id: str, secret: str, path: str, body: Any) -> Answer:
        """A partner webhook: `Loyalty-Signature: t=<t>,v1=<hex HMAC-SHA256 over "<t>.<raw body>">`.

        Signed with the wall clock (partners sign with their own clock; the local stack accepts it), once:
        a retry sends the same signature, fresh for 300 s."""
        raw = json.dumps(body).encode()
        t = str(int(time.time()))
        digest = hmac.new(secret.encode(), t.encode() + b"." + raw, hashlib.sha256).hexdigest()
        return self.request("POST", path, key=None, raw=raw, headers={"Loyalty-Signature": f"t={t},v1={digest}"})

    # -- the local stack's own routes ----------------------------------------------------------
    def set_clock(self, now: str | None) -> None:
        answer = self.post("/_local/clock", {"now": now}, key=None)
        if answer.status != 200:
            raise ApiError(f"cannot set the local clock ({answer.status} {answer.body}); is this a local stack?")

    def run_job(self, job: str, as_of: str) -> dict[str, Any]:
        answer = self.post(f"/_local/jobs/{job}", {"as_of": as_of}, key=None)
        if answer.status != 200:
            raise ApiError(f"job {job} as of {as_of}: {answer.status} {answer.body}")
        return dict(answer.body)


class InProcessClient(Client):
    """The same requests, answered by the replay engine in this process (`loyalty_local.engine`): no HTTP,
    no server, the handlers called directly."""

    def __init__(self, engine: Any) -> None:
        self.engine = engine
        self.base = "the in-process engine"
        self.timeout = 0
        self.attempts = 1
        self.retried = []
        self._lock = threading.Lock()

    def member_views(self, member_ids: list[str]) -> dict[str, dict[str, Any]] | None:
        """The figures GET /v1/members/{id} shows (points, tier), read off the members in one pass of the
        engine's table instead of a request per member: a third of a 10,000-member year's requests."""
        wanted = set(member_ids)
        views = {}
        for member in self.engine.items("MEMBER#"):
            if member["member_id"] in wanted:
                points = {name: int(member.get(name) or 0) for name in POINTS}
                views[member["member_id"]] = {
                    "member_id": member["member_id"],
                    "points": points,
                    "tier": {"id": member["tier_id"]},
                }
        missing = wanted - set(views)
        if missing:
            raise ApiError(f"members missing from the engine's table: {sorted(missing)[:5]}")
        return views

    def ledger_sums(self) -> dict[str, int] | None:
        """Every member's ledger summed in one pass of the engine's entries, instead of reading each ledger
        page by page through GET /v1/members/{id}/ledger (a fifteenth of a simulated year's time)."""
        sums: dict[str, int] = self.engine.ledger_sums()
        return sums

    def exchange(self, method: str, path: str, data: bytes | None, sent: dict[str, str]) -> Answer:
        answer = self.engine.request(method, path, data, sent)
        return Answer(answer.status, _json(answer.body), answer.headers.get("Idempotent-Replayed") == "true")


def _json(raw: bytes) -> Any:
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return raw.decode(errors="replace")
