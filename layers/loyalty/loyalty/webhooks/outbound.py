"""Sending a message to a receiver's URL, and no further: never to this network or the cloud's metadata.

A webhook URL is a request the product makes on a stranger's behalf, so it must not become a way into the
network it runs in (server-side request forgery). Every address the host resolves to is checked, and the
connection is made to an address that passed, by number, and checked again once connected (a name that
resolves to a public address when the endpoint is saved and to a private one when a message is sent, DNS
rebinding, reaches nothing). Refused: loopback, private, link-local (the metadata service, 169.254.169.254 and
fd00:ec2::254), carrier-grade NAT, multicast, reserved and unspecified addresses, IPv4 inside IPv6 included.

Deployed, only `https://` is sent to, with the certificate checked against the URL's host. Locally (the
contract's local mode) `http://` and `https://` to `127.0.0.1` or `localhost` are allowed as well, so a
developer's receiver on their laptop gets its messages.

An attempt has 15 seconds in all (connecting, sending, the answer): a watchdog closes the socket at the
deadline, however slowly a receiver trickles its bytes. At most 64 KiB of the answer is read; the rest is
never read. Redirects are not followed (a 3xx is a failed attempt).
"""

from __future__ import annotations

import contextlib
import http.client
import ipaddress
import re
import socket
import ssl
import threading
import time
from collections.abc import Callable
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

from loyalty.domain.webhooks import ANSWER_SECONDS, Answered

ANSWER_BYTES_READ = 64 * 1024
LOCAL_HOSTS = ("127.0.0.1", "localhost")
URL_CHARACTERS = re.compile(r"[!-~]+")  # printable ASCII, no space: what a request line carries (IDNA: punycode)
Resolver = Callable[..., list[tuple[Any, ...]]]


class Refused(ValueError):
    """The URL may not be sent to; the message says why, in words an administrator reads."""


def address_refused(address: str) -> str | None:
    """Why an IP address may not be sent to, or None."""
    ip: ipaddress.IPv4Address | ipaddress.IPv6Address = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip.is_loopback:
        return "a loopback address"
    if ip.is_link_local:
        return "a link-local address (the metadata service lives there)"
    if ip.is_unspecified or ip.is_multicast or ip.is_reserved:
        return "not a unicast internet address"
    if ip.is_private or not ip.is_global:  # private, carrier-grade NAT, documentation, fd00:ec2::254 ...
        return "a private address"
    return None


def check_url(url: str, *, local: bool) -> tuple[str, str, int]:
    """(scheme, host, port) of a URL the product may send to, judged by its form alone; else Refused."""
    if not URL_CHARACTERS.fullmatch(url):
        raise Refused("the URL has a character a request cannot carry (a space, a control character, or non-ASCII)")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise Refused(f"not a URL: {exc}") from None
    scheme, host = parts.scheme.lower(), (parts.hostname or "").lower()
    if not host:
        raise Refused("the URL has no host")
    if parts.username or parts.password:
        raise Refused("the URL may not carry a user name or password")
    on_laptop = local and host in LOCAL_HOSTS
    if not on_laptop:
        try:
            reason = address_refused(host)
        except ValueError:
            reason = None  # a name, not an address: judged by what it resolves to
        if reason is not None or host == "localhost" or host.endswith((".localhost", ".internal", ".local")):
            raise Refused(f"the URL's host is {reason or 'a local name'}")
    if scheme != "https" and not (on_laptop and scheme == "http"):
        raise Refused("the URL must be https://" + (" (or http:// to 127.0.0.1 or localhost)" if local else ""))
    return scheme, host, port or (443 if scheme == "https" else 80)


def resolve_checked(host: str, port: int, *, local: bool, resolve: Resolver = socket.getaddrinfo) -> list[str]:
    """The addresses of `host` the product may connect to: all of them, or Refused if any is refused (a name
    that also resolves to a private address is not sent to at all)."""
    try:
        found = resolve(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise Refused(f"the URL's host does not resolve ({exc.__class__.__name__})") from None
    addresses = list(dict.fromkeys(str(info[4][0]) for info in found))
    if not addresses:
        raise Refused("the URL's host does not resolve")
    if local and host in LOCAL_HOSTS:
        return addresses
    for address in addresses:
        reason = address_refused(address)
        if reason is not None:
            raise Refused(f"the URL's host resolves to {reason} ({address})")
    return addresses


def retry_after_seconds(value: str | None, now: float) -> float | None:
    """A Retry-After header: seconds, or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - now)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


def _error_words(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError | socket.timeout):
        return f"no answer within {ANSWER_SECONDS} s"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, ConnectionResetError | BrokenPipeError | http.client.RemoteDisconnected):
        return "connection reset by the receiver"
    if isinstance(exc, ssl.SSLCertVerificationError):
        return f"TLS certificate not valid: {exc.verify_message}"
    if isinstance(exc, ssl.SSLError):
        return "TLS failed"
    if isinstance(exc, http.client.HTTPException):
        return f"not an HTTP answer ({exc.__class__.__name__})"
    return f"connection failed ({exc.__class__.__name__})"


def post(
    url: str,
    body: bytes,
    headers: dict[str, str],
    *,
    local: bool,
    timeout: float = ANSWER_SECONDS,
    resolve: Resolver = socket.getaddrinfo,
    wall: Callable[[], float] = time.time,
) -> Answered:
    """POST `body` to `url` under the rules above. Never raises: what happened is the Answered."""
    started = time.monotonic()

    def took() -> int:
        return int((time.monotonic() - started) * 1000)

    deadline = started + timeout
    try:
        scheme, host, port = check_url(url, local=local)
        addresses = _resolve_within(host, port, local, resolve, deadline)
    except Refused as refused:
        return Answered(None, f"refused: {refused}", took())
    except TimeoutError:
        return Answered(None, f"no answer within {int(timeout)} s (the host's name did not resolve in time)", took())
    parts = urlsplit(url)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    watchdog = _Watchdog(deadline)
    try:
        last: OSError | None = None
        sock: socket.socket | None = None
        for address in addresses:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError
            try:
                sock = socket.create_connection((address, port), timeout=remaining)
                break
            except OSError as exc:
                last = exc
        if sock is None:
            raise last or ConnectionRefusedError()
        watchdog.watch(sock)
        peer = str(sock.getpeername()[0])
        if not (local and host in LOCAL_HOSTS):
            reason = address_refused(peer)
            if reason is not None:
                return Answered(None, f"refused: connected to {reason} ({peer})", took())
        if scheme == "https":
            # the TLS socket takes the connection over: the watchdog watches it before the handshake starts
            sock = ssl.create_default_context().wrap_socket(sock, server_hostname=host, do_handshake_on_connect=False)
            watchdog.watch(sock)
            sock.do_handshake()
        connection = http.client.HTTPConnection(host, port, timeout=max(0.001, deadline - time.monotonic()))
        connection.sock = sock
        connection.request("POST", target, body=body, headers={**headers, "connection": "close"})
        answer = connection.getresponse()
        read = 0
        while read < ANSWER_BYTES_READ:
            chunk = answer.read(min(16 * 1024, ANSWER_BYTES_READ - read))
            if not chunk:
                break
            read += len(chunk)
        if time.monotonic() > deadline:
            raise TimeoutError
        retry_after = retry_after_seconds(answer.getheader("retry-after"), wall())
        return Answered(answer.status, None, took(), retry_after)
    except Exception as exc:  # every way a receiver can fail us is an attempt's error, never ours
        if time.monotonic() >= deadline or watchdog.fired:
            return Answered(None, f"no answer within {int(timeout)} s", took())
        return Answered(None, _error_words(exc), took())
    finally:
        watchdog.done()


def _resolve_within(host: str, port: int, local: bool, resolve: Resolver, deadline: float) -> list[str]:
    """resolve_checked, given until the deadline (the system's resolver has no timeout of its own; an address
    needs no resolver, and no thread)."""
    try:
        ipaddress.ip_address(host)
    except ValueError:
        pass  # a name: resolved by a thread of its own, waited for until the deadline
    else:
        return resolve_checked(host, port, local=local, resolve=resolve)
    box: list[Any] = []

    def run() -> None:
        try:
            box.append(resolve_checked(host, port, local=local, resolve=resolve))
        except Exception as exc:  # handed to the caller
            box.append(exc)

    thread = threading.Thread(target=run, daemon=True, name="webhook-dns")
    thread.start()
    thread.join(max(0.0, deadline - time.monotonic()))
    if not box:
        raise TimeoutError
    if isinstance(box[0], BaseException):
        raise box[0]
    found: list[str] = box[0]
    return found


class _Watchdog:
    """Shuts the attempt's connection (whichever socket holds it: the TCP one, then the TLS one) at the
    deadline, however slowly a receiver trickles its bytes; `done()` closes it and stops watching."""

    def __init__(self, deadline: float) -> None:
        self._lock = threading.Lock()
        self._sock: socket.socket | None = None
        self._over = False
        self.fired = False
        self._timer = threading.Timer(max(0.0, deadline - time.monotonic()), self._fire)
        self._timer.daemon = True
        self._timer.start()

    def watch(self, sock: socket.socket) -> None:
        with self._lock:
            self._sock = sock
            fired = self.fired
        if fired:
            _shut(sock)

    def _fire(self) -> None:
        with self._lock:
            if self._over:
                return
            self.fired = True
            sock = self._sock
        if sock is not None:
            _shut(sock)

    def done(self) -> None:
        self._timer.cancel()
        with self._lock:
            self._over = True
            sock = self._sock
        if sock is not None:
            _shut(sock)


def _shut(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    with contextlib.suppress(OSError):
        sock.close()
