"""The ``report`` and ``admit`` commands, read by people or scripts.

They answer from the snapshot a running exporter published in its state folder, so they never
multiply paid provider calls; only without one (or with ``--refresh`` or ``--at``) do they fetch
the providers and evaluate once themselves.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import os
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..money.admission import admit_in_hierarchy
from ..money.reservations import ReservationFileError
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
    admit.add_argument(
        "--reserve",
        action="store_true",
        help="hold the amount against the budget when it fits (in the state folder, as the "
        "server's reservations API does) and print the reservation id",
    )
    admit.add_argument(
        "--holder",
        default=None,
        help="who holds the reservation (default: USER@HOST)",
    )
    admit.add_argument(
        "--ttl",
        default="1h",
        help="how long the reservation holds unless released first: 90s, 2h (default 1h, at "
        "most 31d)",
    )
    admit.add_argument(
        "--job",
        default=None,
        help="the job's value in the config's jobs.dimension: its cost in the data releases "
        "the reservation, and the job's estimate is kept for job accounting",
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
    from ..service.folder import SNAPSHOT_FILE

    try:
        data = json.loads((folder / SNAPSHOT_FILE).read_bytes())
        view = {key: data[key] for key in ("taken_at", "currency", "budgets", "slos")}
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError) as error:
        log.warning("ignoring the unreadable snapshot in %s: %s", folder, error)
        return None
    view = {
        **view,
        "exchange_rates": data.get("exchange_rates", {}),
        "job_spend": data.get("job_spend") or {},
    }
    if budget is not None:
        view["budgets"] = [item for item in view["budgets"] if item["name"] == budget]
        view["slos"] = []
    return view


def _figures(
    config: Config, scoped: Config, args: argparse.Namespace, one_budget: bool = True
) -> dict[str, Any]:
    """The published snapshot, so paid provider calls are not multiplied; a fresh evaluation
    when there is none, with ``--refresh``, or with ``--at`` (a snapshot is of its own time)."""
    from ..service.folder import STATE_DIR_ENV, default_state_dir

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
        data.pop("job_spend", None)
        sys.stdout.write(render_report(data, args.fmt))
        return 0
    scoped = _scoped(config, args.budget)
    if scoped is None:
        return _unknown(config, args.budget)
    data = _figures(config, scoped, args)
    try:
        data = _with_reservations(config, data, args)
    except ReservationFileError as error:
        print(error, file=sys.stderr)
        return EXIT_USAGE
    sys.stdout.write(render_report(data, args.fmt))
    return 0


def _folder(config: Config, args: argparse.Namespace) -> Path:
    from ..service.folder import STATE_DIR_ENV, default_state_dir

    return Path(args.state_dir or os.environ.get(STATE_DIR_ENV) or default_state_dir(config))


def _with_reservations(
    config: Config, data: dict[str, Any], args: argparse.Namespace
) -> dict[str, Any]:
    """Each budget of ``data`` with what reservations hold on it and, with a jobs dimension,
    how its jobs spent against their estimates (the job spend itself leaves ``data``)."""
    from ..money.reservations import held_against, job_accounting
    from ..service.reservations import ReservationBook

    data = dict(data)
    job_spend = data.pop("job_spend", None) or {}
    book = ReservationBook(_folder(config, args))
    now = args.at or datetime.now(UTC)
    active = book.active(now, job_spend)
    held = held_against(data["budgets"], active, job_spend)
    budgets = []
    for budget in data["budgets"]:
        name = budget["name"]
        extra: dict[str, Any] = {
            "reserved": held.get(name, 0.0),
            "reservations": [item.as_json(job_spend) for item in active if item.budget == name],
        }
        if config.jobs.dimension:
            since = datetime.fromisoformat(budget["period"]["start"].replace("Z", "+00:00"))
            extra["jobs"] = job_accounting(book.jobs(name), job_spend.get(name, {}), since)
        budgets.append({**budget, **extra})
    data["budgets"] = budgets
    return data


def command_admit(config: Config, args: argparse.Namespace) -> int:
    """Say whether a planned spend fits the budget; the exit code tells scripts."""
    scoped = _scoped(config, args.budget, ancestors=True)
    if scoped is None and any(budget.is_template for budget in config.budgets):
        # Perhaps a budget a template made from the data: it is known once evaluated.
        scoped = config
    if scoped is None:
        return _unknown(config, args.budget)
    if args.reserve and args.at is not None:
        print("--reserve holds money from now on: it cannot be given with --at", file=sys.stderr)
        return EXIT_USAGE
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
    if args.reserve:
        return _reserve(config, data, args)
    from ..money.reservations import held_against
    from ..service.reservations import ReservationBook

    job_spend = data.get("job_spend") or {}
    try:  # what reservations hold is no longer free to admit
        active = ReservationBook(_folder(config, args)).active(datetime.now(UTC), job_spend)
    except ReservationFileError as error:
        print(error, file=sys.stderr)
        return EXIT_USAGE
    held = held_against(data["budgets"], active, job_spend)
    admission = admit_in_hierarchy(data["budgets"], args.budget, args.amount, held)
    print(f"{admission.verdict.value}: {admission.reason}")
    return admission.verdict.exit_code


def _reserve(config: Config, data: dict[str, Any], args: argparse.Namespace) -> int:
    """Hold the amount in the state folder's reservations, under the lock the server takes."""
    import getpass
    import socket

    from ..money.reservations import (
        RequestError,
        TooManyReservations,
        parse_request,
        parse_ttl,
    )
    from ..service.reservations import ReservationBook

    holder = args.holder or f"{getpass.getuser()}@{socket.gethostname()}"
    try:
        body = {"amount": args.amount, "holder": holder, "job": args.job}
        request = parse_request(body, config.jobs.dimension)
        request = dataclasses.replace(request, ttl=parse_ttl(args.ttl))
    except RequestError as error:
        print(f"cannot reserve: {error}", file=sys.stderr)
        return EXIT_USAGE
    book = ReservationBook(_folder(config, args))
    try:
        grant = book.reserve(
            data["budgets"], data.get("job_spend") or {}, args.budget, request, datetime.now(UTC)
        )
    except (ReservationFileError, TooManyReservations) as error:
        print(f"cannot reserve: {error}", file=sys.stderr)
        return EXIT_USAGE
    admission = grant.admission
    if grant.reservation is None:
        print(f"{admission.verdict.value}: {admission.reason}")
        return admission.verdict.exit_code
    held = grant.reservation
    print(
        f"reserved {held.id}: {held.amount:,.2f} {admission.currency} held against budget "
        f"{held.budget} until {held.as_json()['expires_at']}; {admission.verdict.value}: "
        f"{admission.reason}"
    )
    return admission.verdict.exit_code
