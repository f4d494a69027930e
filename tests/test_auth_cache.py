"""Basic auth costs one bcrypt check per user and password, good or bad, and bcrypt runs one
check at a time across threads and worker processes, as in exporter-toolkit."""

from __future__ import annotations

import base64
import itertools
import multiprocessing
import threading
import time
from pathlib import Path

import bcrypt

from attacks import attack
from budget_exporter.service.webconfig import MAX_CACHED, BasicAuth, BcryptGate

PASSWORD = "right one"
HASH = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(4)).decode()


def _inner(environ: dict, start_response) -> list[bytes]:  # type: ignore[no-untyped-def]
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"ok"]


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def _status(app: BasicAuth, header: str) -> str:
    seen: list[str] = []
    list(app({"HTTP_AUTHORIZATION": header}, lambda status, headers: seen.append(status)))
    return seen[0]


@attack(
    "passwords",
    "the same wrong password or unknown user again and again",
    "one bcrypt check, then answered from memory",
    found=7,
)
def test_a_repeated_wrong_password_or_unknown_user_costs_one_bcrypt_check() -> None:
    app = BasicAuth(_inner, {"prometheus": HASH})
    for _ in range(20):
        assert _status(app, _basic("prometheus", "wrong")) == "401 Unauthorized"
    assert app.bcrypt_checks == 1
    for _ in range(20):
        assert _status(app, _basic("nobody", "wrong")) == "401 Unauthorized"
    assert app.bcrypt_checks == 2
    # The right password is checked once, then remembered; a wrong one stays refused.
    for _ in range(5):
        assert _status(app, _basic("prometheus", PASSWORD)) == "200 OK"
        assert _status(app, _basic("prometheus", "wrong")) == "401 Unauthorized"
    assert app.bcrypt_checks == 3
    # The same wrong password for another user is another check, and also refused.
    assert _status(app, _basic("other", PASSWORD)) == "401 Unauthorized"
    assert app.bcrypt_checks == 4


def test_the_remembered_results_are_bounded() -> None:
    app = BasicAuth(_inner, {"prometheus": HASH})
    for index in range(MAX_CACHED + 50):
        assert not app.allowed(_basic("prometheus", f"guess {index}"))
    assert app.bcrypt_checks == MAX_CACHED + 50
    assert len(app._results) == MAX_CACHED


def _hold(gate: BcryptGate, log: Path, seconds: float) -> None:
    with gate.hold() as turn:
        assert turn
        start = time.monotonic()
        time.sleep(seconds)
        with log.open("a") as stream:
            stream.write(f"{start} {time.monotonic()}\n")


def _hold_in_process(lock_file: Path, log: Path) -> None:
    gate = BcryptGate(lock_file, timeout=30)
    threads = [threading.Thread(target=_hold, args=(gate, log, 0.1)) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


@attack(
    "passwords",
    "new wrong passwords from many threads and workers at once",
    "one bcrypt check at a time",
    found=7,
)
def test_bcrypt_checks_run_one_at_a_time_across_threads_and_processes(tmp_path: Path) -> None:
    lock_file, log = tmp_path / "auth.lock", tmp_path / "held.txt"
    context = multiprocessing.get_context("fork")
    processes = [context.Process(target=_hold_in_process, args=(lock_file, log)) for _ in range(3)]
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=60)
        assert process.exitcode == 0
    spans = sorted(tuple(map(float, line.split())) for line in log.read_text().splitlines())
    assert len(spans) == 6
    for (_, end), (start, _) in itertools.pairwise(spans):
        assert start >= end, spans  # no two holders at once


@attack(
    "passwords",
    "a password check waiting behind others for over 5 s",
    "429 with Retry-After",
    found=7,
)
def test_a_request_that_cannot_get_its_turn_soon_is_told_to_come_back(tmp_path: Path) -> None:
    lock_file = tmp_path / "auth.lock"
    # Another worker (another open file of the same lock) is in bcrypt for a while.
    context = multiprocessing.get_context("fork")
    other = context.Process(target=_hold, args=(BcryptGate(lock_file, 30), tmp_path / "l", 3.0))
    other.start()
    time.sleep(0.5)
    app = BasicAuth(_inner, {"prometheus": HASH}, BcryptGate(lock_file, timeout=0.2))
    seen: list[tuple[str, dict[str, str]]] = []
    header = _basic("prometheus", PASSWORD)
    list(app({"HTTP_AUTHORIZATION": header}, lambda s, h: seen.append((s, dict(h)))))
    other.join(timeout=30)
    assert seen[0][0] == "429 Too Many Requests"
    assert seen[0][1]["Retry-After"] == "1"
    # Once the other check is over, the same request is checked and let in.
    assert _status(app, header) == "200 OK"
