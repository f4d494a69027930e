"""What the analytics of daily bad time add to an SLO's evaluation.

One SLO over ``--incidents`` incidents spread over the 90-day history (each 5 to 60 minutes,
some overlapping), evaluated with a 30-day rolling window and a quarter; times
``evaluate_slo`` alone and ``slo_analytics`` after it, side by side, best of ``--repeat``.

    .venv/bin/python bench/slo_analytics.py --incidents 100 1000 5000

Prints one JSON record per size and window; bench/README.md keeps the results.
"""

from __future__ import annotations

import argparse
import json
import random
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from budget_exporter.model.incidents import Incident
from budget_exporter.model.periods import PeriodKind
from budget_exporter.slo.analytics import slo_analytics
from budget_exporter.slo.error_budget import SloSpec, evaluate_slo

NOW = datetime(2026, 3, 15, 12, tzinfo=UTC)
ZONE = ZoneInfo("Europe/Paris")


def incidents(count: int) -> list[Incident]:
    rng = random.Random(count)
    found = []
    for i in range(count):
        start = NOW - timedelta(seconds=rng.uniform(0, 90 * 86400))
        found.append(
            Incident(
                id=str(i),
                service="api",
                title="outage",
                start=start,
                end=start + timedelta(minutes=rng.uniform(5, 60)),
                impact=rng.choice((0.5, 1.0)),
            )
        )
    return found


def best(repeat: int, work: Callable[..., object], *args: object) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        work(*args)
        times.append(time.perf_counter() - started)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--incidents", type=int, nargs="+", default=[100, 1000, 5000])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    specs = {
        "30d": SloSpec(name="api", objective=0.999),
        "quarter": SloSpec(name="api", objective=0.999, window=None, calendar=PeriodKind.QUARTERLY),
    }
    for count in args.incidents:
        records = incidents(count)
        for window, spec in specs.items():
            status = evaluate_slo(spec, records, NOW, ZONE)
            evaluation = best(args.repeat, evaluate_slo, spec, records, NOW, ZONE)
            extra = best(args.repeat, slo_analytics, spec, records, status, ZONE)
            found = slo_analytics(spec, records, status, ZONE)
            print(
                json.dumps(
                    {
                        "incidents": count,
                        "window": window,
                        "days": found.days,
                        "evaluate_slo_ms": round(evaluation * 1000, 2),
                        "slo_analytics_ms": round(extra * 1000, 2),
                    }
                )
            )


if __name__ == "__main__":
    main()
