"""A ``budget-exporter serve`` process with any flags, for tests that signal or kill it."""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from conftest import free_port


@dataclass
class Exporter:
    """A running exporter: its process, address and log file."""

    process: subprocess.Popen[bytes]
    port: int
    log: Path

    def url(self, scheme: str = "http") -> str:
        """Base URL on loopback."""
        return f"{scheme}://127.0.0.1:{self.port}"

    def log_text(self) -> str:
        """Everything the exporter logged so far."""
        return self.log.read_text(errors="replace")


def serve_command(
    config: Path | None, state_dir: Path, port: int, *extra: str, workers: int = 1
) -> list[str]:
    """The command line of ``budget-exporter serve`` on ``127.0.0.1:port``."""
    command = [
        sys.executable,
        "-m",
        "budget_exporter.cli",
        "serve",
        "--web.listen-address",
        f"127.0.0.1:{port}",
        "--state.dir",
        str(state_dir),
        "--web.workers",
        str(workers),
        *extra,
    ]
    if config is not None:
        command += ["--config.file", str(config)]
    return command


@contextmanager
def exporter(
    config: Path | None,
    state_dir: Path,
    extra: Sequence[str] = (),
    log: Path | None = None,
    env: dict[str, str] | None = None,
    workers: int = 1,
) -> Iterator[Exporter]:
    """Run the exporter until the block ends (SIGTERM, then SIGKILL after 15 s)."""
    port = free_port()
    log = log or state_dir.parent / f"exporter-{port}.log"
    with open(log, "ab") as stream:
        process = subprocess.Popen(
            serve_command(config, state_dir, port, *extra, workers=workers),
            stdout=stream,
            stderr=subprocess.STDOUT,
            env=env,
        )
    try:
        yield Exporter(process, port, log)
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
