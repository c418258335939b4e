"""A second reader's review of the webhooks (issue 25): defects found, each as a test that fails on the code as
it was reviewed. (Written before any fix; see the review report.)"""

from __future__ import annotations

import datetime as dt
import ipaddress
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from loyalty.webhooks import outbound


def _self_signed(tmp: Path) -> tuple[Path, Path, bytes]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)  # a certificate's validity, not the product's time
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
        .sign(key, hashes.SHA256())
    )
    pem = cert.public_bytes(serialization.Encoding.PEM)
    cert_file, key_file = tmp / "cert.pem", tmp / "key.pem"
    cert_file.write_bytes(pem)
    key_file.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_file, key_file, pem


class Trickler:
    """A receiver that answers 200 one byte at a time, a byte every `gap` seconds, for `seconds` in all: each
    read gets a byte well within any per-read timeout, so only a deadline on the whole attempt stops it."""

    def __init__(self, tls: ssl.SSLContext | None, gap: float = 0.2, seconds: float = 6.0) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.tls, self.gap, self.seconds = tls, gap, seconds
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        raw, _ = self.listener.accept()
        conn: Any = self.tls.wrap_socket(raw, server_side=True) if self.tls else raw
        try:
            conn.recv(65536)
            answer = b"HTTP/1.1 200 OK\r\nX-Slow: " + b"a" * 1000
            end = time.monotonic() + self.seconds
            for byte in answer:
                if time.monotonic() > end:
                    break
                conn.sendall(bytes([byte]))
                time.sleep(self.gap)
        except OSError:
            pass  # the client hung up: what a deadline does
        finally:
            conn.close()

    def close(self) -> None:
        self.listener.close()


@pytest.fixture
def tls_pair(tmp_path: Path) -> Iterator[tuple[ssl.SSLContext, bytes]]:
    cert_file, key_file, pem = _self_signed(tmp_path)
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(cert_file, key_file)
    yield server, pem


@pytest.mark.parametrize("scheme", ["http", "https"])
def test_an_attempt_lasts_at_most_its_timeout_however_slowly_the_receiver_trickles(
    scheme: str, tls_pair: tuple[ssl.SSLContext, bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    """outbound.py promises "a watchdog closes the socket at the deadline, however slowly a receiver trickles its
    bytes". For https:// it does not: the watchdog is given the plain socket, which `wrap_socket` then detaches
    (the SSLSocket takes its file descriptor), so `_shut` on it is a no-op and each read only has the socket's
    per-read timeout. Deployed every URL is https://, so a receiver trickling its answer holds an attempt past the
    15 s, past the 30 s lease (a second attempt of the same delivery starts) and up to the function's timeout."""
    server_tls, pem = tls_pair
    if scheme == "https":
        real = ssl.create_default_context

        def trusting(*args: Any, **kwargs: Any) -> ssl.SSLContext:
            context = real(*args, **kwargs)
            context.load_verify_locations(cadata=pem.decode())
            return context

        monkeypatch.setattr(outbound.ssl, "create_default_context", trusting)
    receiver = Trickler(server_tls if scheme == "https" else None)
    try:
        started = time.monotonic()
        answered = outbound.post(
            f"{scheme}://127.0.0.1:{receiver.port}/hook",
            b"{}",
            {"content-type": "application/json"},
            local=True,
            timeout=1.0,
        )
        took = time.monotonic() - started
    finally:
        receiver.close()
    assert answered.status is None and answered.error == "no answer within 1 s"
    assert took < 2.5, f"{scheme}: the attempt took {took:.1f} s with a 1 s timeout"
