"""The ``report`` and ``admit`` commands, read by people or scripts.

They answer from the snapshot a running exporter published in its state folder, so they never
multiply paid provider calls; only without one (or with ``--refresh`` or ``--at``) do they fetch
the providers and evaluate once themselves.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..money.admission import admit_in_hierarchy
from ..views.report import FORMATS, render_report

if TYPE_CHECKING:
    from ..config.schema import Config

log = logging.getLogger(__name__)

# admit: 0 admitted, 1 does not fit, 3 fits now but the forecast overruns (Verdict.exit_code);
# 2 config or usage problem; 4 no answer: the budget's provider has no data.
EXIT_USAGE, EXIT_NO_DATA = 2, 4


def add_report_arguments(report: argparse.ArgumentParser, admit: argparse.ArgumentParser) -> None:
    """The options of ``report`` and ``admit`` (config and logging options come from cli)."""
    only = report.add_mutually_exclusive_group()
    only.add_argument("--budget", default=None, help="report this budget only (no SLOs)")
    only.add_argument("--slo", default=None, help="report this SLO only (no budgets)")
    report.add_argument(
        "--format", dest="fmt", choices=FORMATS, default="text", help="output (default: text)"
    )
    admit.add_argument("--budget", required=True, help="the budget the spend counts against")
    admit.add_argument(
        "--amount",
        required=True,
        type=_amount,
        help="planned spend in the reporting currency, e.g. 8.00",
    )
    for sub in (report, admit):
        sub.add_argument(
            "--state.dir",
            dest="state_dir",
            default=None,
            help="answer from the snapshot a running exporter published in this folder (default: "
            "as serve's); the providers are fetched only when it holds none",
        )
        sub.add_argument(
            "--refresh",
            action="store_true",
            help="fetch every provider now instead of reading the published snapshot",
        )


def _amount(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number such as 8.00") from None
    if not value >= 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"amount must be a number of at least 0, not {text}")
    return value


def _scoped(config: Config, budget: str | None, ancestors: bool = False) -> Config | None:
    """The config narrowed to one budget (and its ancestors, an admission counts against them
    too); None if unknown; every budget and SLO otherwise."""
    if budget is None:
        return config
    if budget not in {item.name for item in config.budgets}:
        return None
    chain = [config.budget(budget)]
    while ancestors and chain[-1].parent and chain[-1].parent not in {b.name for b in chain}:
        chain.append(config.budget(chain[-1].parent))
    return config.model_copy(update={"budgets": tuple(chain), "slos": ()})


def evaluate_now(config: Config, now: datetime) -> dict[str, Any]:
    """Fetch the providers the config uses, evaluate once, return the JSON view."""
    # The maths and the providers load only when the answer is computed, not read.
    from ..service.refresh import Refresher
    from ..views.snapshot_json import snapshot_json

    refresher = Refresher(config, fit_every_forecast=True)
    used = {budget.provider for budget in config.budgets} | {slo.provider for slo in config.slos}
    names = list(refresher.providers) if None in used else [n for n in used if n is not None]
    refresher.refresh(now, names)
    return snapshot_json(refresher.snapshot(now))


def published_snapshot(folder: Path, budget: str | None) -> dict[str, Any] | None:
    """The JSON view a running exporter published in ``folder`` (one budget, no SLOs, when
    ``budget`` is given), or None when there is none to read."""
    from ..service.state import SNAPSHOT_FILE

    try:
        data = json.loads((folder / SNAPSHOT_FILE).read_bytes())
        view = {key: data[key] for key in ("taken_at", "currency", "budgets", "slos")}
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError) as error:
        log.warning("ignoring the unreadable snapshot in %s: %s", folder, error)
        return None
    view = {**view, "exchange_rates": data.get("exchange_rates", {})}
    if budget is not None:
        view["budgets"] = [item for item in view["budgets"] if item["name"] == budget]
        view["slos"] = []
    return view


def _figures(
    config: Config, scoped: Config, args: argparse.Namespace, one_budget: bool = True
) -> dict[str, Any]:
    """The published snapshot, so paid provider calls are not multiplied; a fresh evaluation
    when there is none, with ``--refresh``, or with ``--at`` (a snapshot is of its own time)."""
    from ..service.state import STATE_DIR_ENV, default_state_dir

    if not args.refresh and args.at is None:
        folder = Path(args.state_dir or os.environ.get(STATE_DIR_ENV) or default_state_dir(config))
        data = published_snapshot(folder, args.budget if one_budget else None)
        if data is not None:
            log.info(
                "figures of the snapshot published at %s in %s; --refresh fetches them now",
                data["taken_at"],
                folder,
            )
            return data
    return evaluate_now(scoped, args.at or datetime.now(UTC))


def _unknown(config: Config, name: str) -> int:
    known = ", ".join(sorted(budget.name for budget in config.budgets)) or "none"
    print(f"unknown budget {name!r}; budgets: {known}", file=sys.stderr)
    return EXIT_USAGE


def command_report(config: Config, args: argparse.Namespace) -> int:
    """Print the status of every budget and SLO (or one budget, or one SLO)."""
    if args.slo is not None:
        if args.slo not in {slo.name for slo in config.slos}:
            known = ", ".join(sorted(slo.name for slo in config.slos)) or "none"
            print(f"unknown SLO {args.slo!r}; SLOs: {known}", file=sys.stderr)
            return EXIT_USAGE
        only_slo = config.model_copy(
            update={"budgets": (), "slos": tuple(s for s in config.slos if s.name == args.slo)}
        )
        data = _figures(config, only_slo, args, one_budget=False)
        data = {**data, "budgets": [], "slos": [s for s in data["slos"] if s["name"] == args.slo]}
        sys.stdout.write(render_report(data, args.fmt))
        return 0
    scoped = _scoped(config, args.budget)
    if scoped is None:
        return _unknown(config, args.budget)
    data = _figures(config, scoped, args)
    sys.stdout.write(render_report(data, args.fmt))
    return 0


def command_admit(config: Config, args: argparse.Namespace) -> int:
    """Say whether a planned spend fits the budget; the exit code tells scripts."""
    scoped = _scoped(config, args.budget, ancestors=True)
    if scoped is None and any(budget.is_template for budget in config.budgets):
        # Perhaps a budget a template made from the data: it is known once evaluated.
        scoped = config
    if scoped is None:
        return _unknown(config, args.budget)
    data = _figures(config, scoped, args, one_budget=False)
    made = {item["name"] for item in data["budgets"]}
    if scoped is config and args.budget not in made | {b.name for b in config.budgets}:
        return _unknown(config, args.budget)
    if args.budget not in {item["name"] for item in data["budgets"]}:
        print(
            f"budget {args.budget!r} has no figures yet: its provider has no data, or its "
            "auto amount no history",
            file=sys.stderr,
        )
        return EXIT_NO_DATA
    admission = admit_in_hierarchy(data["budgets"], args.budget, args.amount)
    print(f"{admission.verdict.value}: {admission.reason}")
    return admission.verdict.exit_code
