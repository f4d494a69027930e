"""Shared test helpers: real binaries, free ports, and a running exporter process."""

from __future__ import annotations

import os
import shutil
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from hypothesis import settings

# Property tests run the same examples on every machine, so a failure is reproducible.
settings.register_profile("reproducible", derandomize=True, database=None)
settings.load_profile("reproducible")

ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = ROOT.parent / "shared" / "data"
FOCUS_SAMPLE = SHARED_DATA / "focus-1.0-sample" / "focus_sample.csv"


def require_binary(name: str) -> str:
    """Path of a binary the test needs; missing fails under CI=true and skips elsewhere."""
    path = shutil.which(name)
    if path:
        return path
    message = f"{name} is not installed (scripts/test installs it with apt-get)"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(message)
    pytest.skip(message)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_http(url: str, timeout: float = 30.0, expect: int = 200) -> bytes:
    """Poll ``url`` until it answers ``expect``; return the body. Fails after ``timeout``."""
    deadline = time.monotonic() + timeout
    last: object = None
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                if response.status == expect:
                    return bytes(response.read())
                last = response.status
        except urllib.error.HTTPError as error:
            last = error.code
        except OSError as error:
            last = error
        time.sleep(0.2)
    raise AssertionError(f"{url} did not answer {expect} within {timeout}s (last: {last})")


@contextmanager
def running_exporter(
    config: Path | None, state_dir: Path, workers: int = 1, log_file: Path | None = None
) -> Iterator[str]:
    """Run ``budget-exporter serve`` on a free loopback port; yield its base URL."""
    from exporterproc import exporter  # imports this module: load it only when used

    with exporter(config, state_dir, log=log_file, workers=workers) as running:
        yield running.url()
