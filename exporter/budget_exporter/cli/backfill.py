"""The ``backfill`` command: history from day one, from the cost and incident data in hand.

Every budget and SLO is evaluated as of each step between ``--from`` and ``--to``, exactly as
``once --at`` would evaluate it then; the samples are written as OpenMetrics with timestamps
and turned into TSDB blocks by ``promtool tsdb create-blocks-from openmetrics``. The providers
are read once, as of ``--to`` (from the state folder of a running exporter when it holds their
data), so a backfill costs no more paid API calls than one refresh.
"""

from __future__ import annotations

import argparse
import logging
import shutil
import subprocess
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from ..model.periods import format_duration, parse_duration

if TYPE_CHECKING:
    from ..config.schema import Config

log = logging.getLogger(__name__)

OPENMETRICS_FILE = "backfill.om"
BLOCKS_FOLDER = "blocks"
MAX_STEPS = 100_000
EXIT_OK, EXIT_PROVIDER_FAILED, EXIT_USAGE = 0, 1, 2


def add_backfill_arguments(
    backfill: argparse.ArgumentParser, parse_time: Callable[[str], datetime]
) -> None:
    """The options of ``backfill`` (config and logging options come from cli)."""
    backfill.add_argument(
        "--from", dest="start", required=True, type=parse_time, help="first moment, e.g. 2026-10-01"
    )
    backfill.add_argument(
        "--to", dest="end", type=parse_time, default=None, help="last moment (default: now)"
    )
    backfill.add_argument(
        "--step",
        type=_step,
        default=timedelta(hours=1),
        help="time between evaluations (default: 1h; 1d for long ranges)",
    )
    backfill.add_argument(
        "--out", required=True, type=Path, help="folder for backfill.om and the blocks/ folder"
    )
    backfill.add_argument(
        "--state.dir",
        dest="state_dir",
        default=None,
        help="read the providers' data from a running exporter's state folder when it holds it",
    )
    backfill.add_argument(
        "--no-blocks",
        dest="blocks",
        action="store_false",
        help="write backfill.om only (turn it into blocks yourself with promtool)",
    )


def _step(text: str) -> timedelta:
    try:
        step = parse_duration(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    if step < timedelta(minutes=1):
        raise argparse.ArgumentTypeError("the step must be at least 1m")
    return step


def steps(start: datetime, end: datetime, step: timedelta) -> list[datetime]:
    """``start``, ``start + step``, ... up to and including ``end``."""
    moments = []
    current = start
    while current <= end:
        moments.append(current)
        current += step
    return moments


def command_backfill(config: Config, args: argparse.Namespace) -> int:
    """Evaluate every step, write the OpenMetrics text, make the blocks."""
    from ..metrics.history import HistoryWriter
    from ..service.refresh import Refresher
    from ..service.state import StateDir

    end = args.end or datetime.now(UTC)
    start = args.start
    if start >= end:
        print(f"--from {start.isoformat()} must be before --to {end.isoformat()}")
        return EXIT_USAGE
    moments = steps(start, end, args.step)
    if len(moments) > MAX_STEPS:
        print(
            f"{len(moments)} steps of {format_duration(args.step)}: more than {MAX_STEPS}; "
            "use a longer --step or a shorter range"
        )
        return EXIT_USAGE
    state = StateDir(Path(args.state_dir)) if args.state_dir else None
    refresher = Refresher(config, state, fit_every_forecast=True)
    # The folder belongs to the exporter that leads it: read its data, never write there.
    refresher.state = None
    missing = [name for name in refresher.providers if name not in refresher.data]
    missing = [name for name in missing if name not in refresher.incidents]
    if missing:
        refresher.refresh(end, missing)
    failed = [name for name, health in refresher.health.items() if not health.up]
    for name in failed:
        log.error("provider %s has no data: its budgets and SLOs are left out", name)
    writer = HistoryWriter()
    began = time.perf_counter()
    for moment in moments:
        writer.add(refresher.snapshot(moment))
    args.out.mkdir(parents=True, exist_ok=True)
    text = args.out / OPENMETRICS_FILE
    with text.open("w", encoding="utf-8") as out:
        writer.write(out)
    log.info(
        "backfill: %d steps, %d samples in %.1fs -> %s",
        writer.snapshots,
        writer.samples,
        time.perf_counter() - began,
        text,
    )
    if args.blocks:
        code = make_blocks(text, args.out / BLOCKS_FOLDER)
        if code != EXIT_OK:
            return code
    return EXIT_PROVIDER_FAILED if failed else EXIT_OK


def make_blocks(text: Path, blocks: Path) -> int:
    """``promtool tsdb create-blocks-from openmetrics``; its own errors are printed as they are."""
    promtool = shutil.which("promtool")
    if promtool is None:
        print(
            f"promtool is not installed: {text} is written; make the blocks with "
            f"'promtool tsdb create-blocks-from openmetrics {text} {blocks}'"
        )
        return EXIT_USAGE
    blocks.mkdir(parents=True, exist_ok=True)
    result = subprocess.run(
        [promtool, "tsdb", "create-blocks-from", "openmetrics", str(text), str(blocks)],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        print(f"promtool could not make blocks of {text}:\n{result.stderr.strip()}")
        return EXIT_USAGE
    print(f"blocks written to {blocks}: copy them into Prometheus' data folder (docs/backfill.md)")
    return EXIT_OK
