"""Rendering the exposition of many budgets: the project's writer beside the client library's.

Evaluates ``--budgets`` budgets of the config of bench/scrape.py once (with every forecast
fit), then renders the same snapshot's families ``--repeat`` times with each writer, in both
formats, in turn, and both formats at once as the refresher does (``write_both``); prints the
medians (seconds, of the wall clock and of the process's CPU time), the lines and the bytes as
JSON. Building the families is timed apart, since the project's writer reads them as they are;
the library's generators collect them themselves, so their figures include the build.

    .venv/bin/python bench/render.py --budgets 10000 --repeat 5
"""

from __future__ import annotations

import argparse
import functools
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from prometheus_client.exposition import generate_latest
from prometheus_client.openmetrics.exposition import generate_latest as generate_openmetrics
from prometheus_client.registry import CollectorRegistry

sys.path.insert(0, str(Path(__file__).resolve().parent))

from budget_exporter.config.loader import load_config
from budget_exporter.metrics.exposition import SnapshotCollector, write_both, write_exposition
from budget_exporter.service.refresh import Refresher
from scrape import write_config

AT = datetime(2026, 11, 18, 12, tzinfo=UTC)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budgets", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "config.yml"
        write_config(path, args.budgets)
        refresher = Refresher(load_config(str(path)), fit_every_forecast=True)
    refresher.refresh(AT)
    snapshot = refresher.snapshot(AT)
    timings: dict[str, list[float]] = {}
    cpu: dict[str, list[float]] = {}

    def timed(name: str, work: Callable[[], Any]) -> Any:
        started, started_cpu = time.perf_counter(), time.process_time()
        result = work()
        timings.setdefault(name, []).append(time.perf_counter() - started)
        cpu.setdefault(name, []).append(time.process_time() - started_cpu)
        return result

    sizes = {}
    written: dict[str, bytes] = {}
    for _ in range(args.repeat):
        metrics = timed("families", functools.partial(list, SnapshotCollector(snapshot).collect()))
        registry = CollectorRegistry(auto_describe=False)
        registry.register(SnapshotCollector(snapshot))
        for fmt, library in (("text", generate_latest), ("openmetrics", generate_openmetrics)):
            ours = timed(
                f"{fmt}: writer", functools.partial(write_exposition, metrics, fmt == "openmetrics")
            )
            # The library collects the families itself: subtract their build, timed above.
            theirs = timed(f"{fmt}: library, with families", functools.partial(library, registry))
            assert ours == theirs, fmt
            sizes[fmt] = {"lines": ours.count(b"\n"), "bytes": len(ours)}
            written[fmt] = ours
        both = timed("both formats: writer", functools.partial(write_both, metrics))
        assert both == (written["text"], written["openmetrics"])
    record = {
        "budgets": args.budgets,
        "medians_seconds": {k: round(statistics.median(v), 3) for k, v in timings.items()},
        # The process's CPU time: what the others on a shared machine take from it left out.
        "cpu_medians_seconds": {k: round(statistics.median(v), 3) for k, v in cpu.items()},
        "sizes": sizes,
    }
    print(json.dumps(record, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
