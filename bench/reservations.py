"""What a reservation costs: a grant reads, decides and rewrites the whole file under its lock.

For each number of active reservations already held (``--held``), times ``--grants`` grants
one after another on one budget of a ten-budget hierarchy, and the same number of threads and
processes racing (``--workers`` processes of ``--threads`` threads each), on a folder of the
local disk. Reports the median and 95th percentile of one grant and the file's size. Each
write is fsynced, so the disk's sync latency sets the floor.

    .venv/bin/python bench/reservations.py --held 0 1000 9000 --grants 200
"""

from __future__ import annotations

import argparse
import multiprocessing
import statistics
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from budget_exporter.money.reservations import Reservation, ReservationRequest
from budget_exporter.service.reservations import ReservationBook, _Book

NOW = datetime(2026, 12, 2, tzinfo=UTC)
BUDGETS = [
    {"name": "org", "parent": "", "limit": 1e12, "spend": 0.0, "currency": "USD", "forecast": None}
] + [
    {"name": f"team-{n}", "parent": "org", "limit": 1e11, "spend": 0.0, "currency": "USD"}
    for n in range(9)
]
REQUEST = ReservationRequest(1.0, "bench", timedelta(hours=1))


def _fill(folder: Path, held: int) -> ReservationBook:
    book = ReservationBook(folder)
    items = [
        Reservation(f"{n:016x}", f"team-{n % 9}", 1.0, "bench", NOW, NOW + timedelta(hours=1))
        for n in range(held)
    ]
    with book._locked(exclusive=True):
        book._write(_Book(items, {}))
    return book


def _grants(folder: str, count: int, threads: int, out: list[float] | None = None) -> list[float]:
    book = ReservationBook(folder)
    times: list[float] = []
    lock = threading.Lock()

    def run() -> None:
        for _ in range(count):
            start = time.perf_counter()
            assert book.reserve(BUDGETS, {}, "team-0", REQUEST, NOW).granted
            with lock:
                times.append(time.perf_counter() - start)

    pool = [threading.Thread(target=run) for _ in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    return times


def _worker(args: tuple[str, int, int]) -> list[float]:
    return _grants(*args)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--held", type=int, nargs="+", default=[0, 1000, 9000])
    parser.add_argument("--grants", type=int, default=200)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4)
    args = parser.parse_args()
    racing = f"racing ({args.workers} x {args.threads}): median, p95, grants/s"
    print(f"| held | one after another: median, p95 | {racing} | file |")
    print("| ---: | --- | --- | ---: |")
    for held in args.held:
        with tempfile.TemporaryDirectory(dir=Path.cwd()) as folder:
            book = _fill(Path(folder), held)
            alone = _grants(folder, args.grants, 1)
            per = max(1, args.grants // (args.workers * args.threads))
            start = time.perf_counter()
            with multiprocessing.Pool(args.workers) as pool:
                parts = pool.map(_worker, [(folder, per, args.threads)] * args.workers)
            wall = time.perf_counter() - start
            racing = [t for part in parts for t in part]
            size = book.path.stat().st_size

        def ms(values: list[float], q: float) -> str:
            return f"{statistics.quantiles(values, n=100)[int(q) - 1] * 1000:.1f} ms"

        print(
            f"| {held:,} | {statistics.median(alone) * 1000:.1f} ms, {ms(alone, 95)} | "
            f"{statistics.median(racing) * 1000:.1f} ms, {ms(racing, 95)}, "
            f"{len(racing) / wall:.0f} | {size / 1024:,.0f} KiB |"
        )


if __name__ == "__main__":
    main()
