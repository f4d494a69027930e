"""Slow clients against the real server: request heads that trickle in one line at a time hold
no thread, are closed after the header-read timeout, and every normal scrape meanwhile is served.
"""

from __future__ import annotations

import socket
import ssl
import textwrap
import threading
import time
import urllib.request
from pathlib import Path

import pytest

from attacks import attack
from conftest import wait_for_http
from exporterproc import exporter
from tlscerts import Authority

pytestmark = pytest.mark.integration

SLOW_CLIENTS = 40  # five times the 2 workers x 4 threads a thread-per-head server has
HEADER_TIMEOUT = 3  # seconds, given to the server below


def small_config(folder: Path) -> Path:
    """One budget over a two-line CSV: ready within a second."""
    (folder / "costs.csv").write_text("date,cost\n2024-09-01,10\n2024-09-02,20\n")
    path = folder / "config.yml"
    path.write_text(
        textwrap.dedent(
            """
            refresh_interval: 1h
            evaluation_interval: 1m
            providers:
              costs: {type: csv, paths: ["costs.csv"]}
            budgets:
              - {name: team, amount: 100, period: monthly}
            """
        )
    )
    return path


class Trickle:
    """Sockets that send a request line, then one header line a second, never ending."""

    def __init__(self, port: int, count: int):
        self.sockets = []
        for _ in range(count):
            sock = socket.create_connection(("127.0.0.1", port), timeout=5)
            sock.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n")
            self.sockets.append(sock)
        self.closed_by_server: set[int] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        line = 0
        while not self._stop.wait(1.0):
            line += 1
            for index, sock in enumerate(self.sockets):
                if index in self.closed_by_server:
                    continue
                try:
                    sock.sendall(f"X-Slow-{line}: {'a' * 10}\r\n".encode())
                except OSError:
                    self.closed_by_server.add(index)

    def closed(self, index: int) -> bool:
        """Whether the server has given up on socket ``index``: EOF, reset or its 408."""
        sock = self.sockets[index]
        sock.settimeout(0.05)
        try:
            sock.recv(4096)
            return True
        except TimeoutError:
            return False
        except OSError:
            return True

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        for sock in self.sockets:
            sock.close()


def scrape(url: str) -> bool:
    """One normal scrape with the 10 s timeout a Prometheus job has by default."""
    try:
        with urllib.request.urlopen(f"{url}/metrics", timeout=10) as answer:
            return answer.status == 200 and b"budget_limit" in answer.read()
    except OSError:
        return False


@attack(
    "slow clients",
    "40 connections sending one header line a second beside 10 scrapes",
    "every scrape answered; each slow head closed after the header-read timeout",
    found=1,
)
def test_slow_request_heads_do_not_block_scrapes_and_are_closed_after_the_timeout(
    tmp_path: Path,
) -> None:
    config = small_config(tmp_path)
    extra = ["--web.read-header-timeout", f"{HEADER_TIMEOUT}s"]
    with exporter(config, tmp_path / "state", extra, workers=2) as running:
        url = running.url()
        wait_for_http(f"{url}/-/ready", timeout=60)
        trickle = Trickle(running.port, SLOW_CLIENTS)
        try:
            time.sleep(0.5)  # every slow head is in the server before the scrapes start
            results = [scrape(url) for _ in range(10)]
            assert all(results), f"{results.count(False)} of 10 scrapes failed"

            # Each slow head is closed once it has taken the header-read timeout (a generous
            # bound: the timeout plus the 1 s sweep, on a loaded machine).
            deadline = time.monotonic() + HEADER_TIMEOUT + 15
            open_ones = set(range(SLOW_CLIENTS))
            while open_ones and time.monotonic() < deadline:
                open_ones = {i for i in open_ones if not trickle.closed(i)}
                time.sleep(0.2)
            assert not open_ones, f"{len(open_ones)} slow heads still open"
            assert scrape(url)
        finally:
            trickle.stop()


def read_answer(sock: socket.socket, pause: float = 0.0) -> bytes:
    """One whole HTTP answer with a Content-Length: head and body, ``pause`` s between reads."""
    data = b""
    while b"\r\n\r\n" not in data:
        data += sock.recv(4096)
    head, _, body = data.partition(b"\r\n\r\n")
    length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
    chunks = [body[:length]]
    received = len(chunks[0])
    while received < length:
        time.sleep(pause)
        chunk = sock.recv(min(4096, length - received))
        assert chunk, "the connection ended within an answer"
        chunks.append(chunk)
        received += len(chunk)
    return head + b"\r\n\r\n" + b"".join(chunks)


@attack(
    "slow clients",
    "a head sent in pieces within the timeout, also on a kept-alive connection",
    "answered",
)
def test_a_head_sent_slowly_but_within_the_timeout_is_answered(tmp_path: Path) -> None:
    config = small_config(tmp_path)
    extra = ["--web.read-header-timeout", "10s"]
    with exporter(config, tmp_path / "state", extra) as running:
        wait_for_http(f"{running.url()}/-/ready", timeout=60)
        with socket.create_connection(("127.0.0.1", running.port), timeout=10) as sock:
            for part in (b"GET /-/healthy HTTP/1.1\r\n", b"Host: x\r\n", b"\r\n"):
                sock.sendall(part)
                time.sleep(0.5)
            answer = read_answer(sock)
        assert answer.startswith(b"HTTP/1.1 200 OK"), answer
        # Kept alive, then a second request on the same connection in pieces as well.
        with socket.create_connection(("127.0.0.1", running.port), timeout=10) as sock:
            sock.sendall(b"GET /-/healthy HTTP/1.1\r\nHost: x\r\n\r\n")
            assert read_answer(sock).startswith(b"HTTP/1.1 200 OK")
            sock.sendall(b"GET /-/ready HTTP/1.1\r\n")
            time.sleep(0.5)
            sock.sendall(b"Host: x\r\n\r\n")
            assert b"Ready" in read_answer(sock)


@attack(
    "slow clients",
    "40 connections sending the first bytes of a TLS handshake, then nothing",
    "every scrape over TLS answered",
    found=1,
)
def test_slow_tls_handshakes_do_not_block_scrapes_over_tls(tmp_path: Path) -> None:
    ca = Authority(tmp_path / "pki")
    server = ca.issue("server")
    web = tmp_path / "web.yml"
    web.write_text(f"tls_server_config:\n  cert_file: {server.cert}\n  key_file: {server.key}\n")
    config = small_config(tmp_path)
    extra = ["--web.config.file", str(web), "--web.read-header-timeout", f"{HEADER_TIMEOUT}s"]
    with exporter(config, tmp_path / "state", extra, workers=2) as running:
        url = running.url("https")
        context = ssl.create_default_context(cafile=str(ca.pair.cert))
        deadline = time.monotonic() + 60
        while not _tls_scrape(url, context):
            assert time.monotonic() < deadline, running.log_text()
            time.sleep(0.3)
        # The first bytes of a TLS handshake, then nothing: a thread-per-connection server
        # sits in the handshake with each of them.
        stalled = []
        for _ in range(SLOW_CLIENTS):
            sock = socket.create_connection(("127.0.0.1", running.port), timeout=5)
            sock.sendall(b"\x16\x03\x01\x00")
            stalled.append(sock)
        try:
            time.sleep(0.5)
            results = [_tls_scrape(url, context) for _ in range(5)]
            assert all(results), f"{results.count(False)} of 5 scrapes over TLS failed"
        finally:
            for sock in stalled:
                sock.close()


def _tls_scrape(url: str, context: ssl.SSLContext) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/metrics", timeout=10, context=context) as answer:
            return answer.status == 200
    except OSError:
        return False


STALLED_READERS = 8  # twice the 4 threads of the one worker below
WRITE_TIMEOUT = 2  # seconds, given to the server below
# Requests each stalled reader sends at once: the kernel takes a few MB of answers into its
# buffers before a write blocks, more than one exposition of a test-sized config.
PIPELINED = 16


def many_budgets_config(folder: Path, budgets: int = 100) -> Path:
    """Demo costs up to now and ``budgets`` budgets: about 4 KB of exposition per budget."""
    lines = ["refresh_interval: 1h", "evaluation_interval: 1h", "providers:"]
    lines += ["  demo: {type: demo}", "budgets:"]
    periods = ("daily", "weekly", "monthly", "quarterly", "yearly")
    for i in range(budgets):
        lines.append(f"  - {{name: b{i:04d}, amount: {1000 + i}, period: {periods[i % 5]}}}")
    path = folder / "config.yml"
    path.write_text("\n".join(lines) + "\n")
    return path


def stalled_reader(port: int, request: bytes) -> socket.socket:
    """A connection that sends ``request`` and never reads: a receive buffer of a few KiB."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.settimeout(5)
    sock.connect(("127.0.0.1", port))
    sock.sendall(request)
    return sock


def read_to_the_end(sock: socket.socket) -> tuple[bytes, bool]:
    """Everything the connection still gives, and whether the server reset it."""
    data = bytearray()
    try:
        while chunk := sock.recv(65536):
            data += chunk
    except ConnectionResetError:
        return bytes(data), True
    return bytes(data), False


@attack(
    "slow clients",
    "8 connections (twice the threads) that send 16 pipelined scrapes and never read",
    "every scrape answered; each stalled reader reset after the write timeout",
    found="slow readers",
)
def test_clients_that_stop_reading_their_answer_are_cut_off_and_scrapes_go_on(
    tmp_path: Path,
) -> None:
    config = many_budgets_config(tmp_path)
    extra = ["--web.write-timeout", f"{WRITE_TIMEOUT}s"]
    with exporter(config, tmp_path / "state", extra, workers=1) as running:
        url = running.url()
        wait_for_http(f"{url}/-/ready", timeout=120)
        with urllib.request.urlopen(f"{url}/metrics", timeout=30) as answer:
            whole = answer.read()
        size = len(whole)
        assert size * PIPELINED > 5_000_000, size  # more than the socket buffers hold

        # A client that reads slowly but within the timeout gets every answer whole, in order,
        # on one kept-alive connection (the event loop writes what the kernel did not take).
        slow = stalled_reader(running.port, b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n" * 2)
        with slow:
            time.sleep(0.5)
            for _ in range(2):
                head, _, body = read_answer(slow, pause=0.0005).partition(b"\r\n\r\n")
                assert head.startswith(b"HTTP/1.1 200 OK") and body == whole

        request = b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n" * PIPELINED
        stalled = [stalled_reader(running.port, request) for _ in range(STALLED_READERS)]
        try:
            # Every thread of the worker is writing to a client that does not read; before
            # the write timeout, each of them stayed there for good and no scrape was served.
            started = time.monotonic()
            results = [scrape(url) for _ in range(5)]
            assert all(results), f"{results.count(False)} of 5 scrapes failed"
            time.sleep(max(0.0, started + WRITE_TIMEOUT + 3 - time.monotonic()))
            for sock in stalled:
                data, reset = read_to_the_end(sock)
                assert data.startswith(b"HTTP/1.1 200 OK")
                assert reset, "the server did not reset a connection whose answer was unread"
                assert len(data) < size * PIPELINED, "every answer arrived: nothing was cut off"
        finally:
            for sock in stalled:
                sock.close()
        assert "its answer was not read within 2s" in running.log_text()
        assert "Traceback" not in running.log_text()
        assert scrape(url)


@attack(
    "slow clients",
    "12 clients asking for Connection: close that never close",
    "scrapes answered at once: the close waits in the event loop",
    found="lingering closes",
)
def test_clients_that_ask_to_close_and_never_do_leave_the_event_loop_free(
    tmp_path: Path,
) -> None:
    config = small_config(tmp_path)
    with exporter(config, tmp_path / "state", workers=1) as running:
        url = running.url()
        wait_for_http(f"{url}/-/ready", timeout=60)
        # Each answer fits in the socket buffers; the server then waits for the client's end of
        # the connection, which never comes. That wait blocked the worker's event loop for 2 s
        # per connection, so a dozen of them made normal scrapes time out.
        request = b"GET /-/healthy HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        idle = [stalled_reader(running.port, request) for _ in range(12)]
        try:
            time.sleep(0.5)
            started = time.monotonic()
            results = [scrape(url) for _ in range(5)]
            elapsed = time.monotonic() - started
            assert all(results), f"{results.count(False)} of 5 scrapes failed"
            assert elapsed < 10, f"5 scrapes took {elapsed:.1f} s"
            for sock in idle:
                data, _ = read_to_the_end(sock)  # answered, then closed by the server
                assert data.startswith(b"HTTP/1.1 200 OK") and data.endswith(b"Healthy.\n"), data
        finally:
            for sock in idle:
                sock.close()
