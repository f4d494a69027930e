"""Command line: ``budget-exporter serve | check | once | report | admit | backfill``."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import __version__
from ..model.errors import ConfigError
from ..model.periods import parse_duration
from .backfill import add_backfill_arguments
from .report import add_report_arguments

if TYPE_CHECKING:
    from ..config.schema import Config
    from ..service.webconfig import LoadedWebConfig

# The command line imports what a command needs when it runs, not before: `--version` and the
# answers read from a published snapshot start in a fraction of a second, while the maths,
# the providers and the server load only for the commands that use them.

DEFAULT_PORT = 10098
DEFAULT_LISTEN = f":{DEFAULT_PORT}"
EXIT_OK, EXIT_PROVIDER_FAILED, EXIT_BAD_CONFIG = 0, 1, 2
DEFAULT_READ_HEADER_TIMEOUT = 10.0
MIN_HEADER_TIMEOUT, MAX_HEADER_TIMEOUT = 1.0, 300.0
# Prometheus gives up a scrape after its scrape_timeout, at most the scrape interval (usually
# one minute or less): an answer still unread after a minute has nobody waiting for it.
DEFAULT_WRITE_TIMEOUT = 60.0
MIN_WRITE_TIMEOUT, MAX_WRITE_TIMEOUT = 1.0, 600.0

log = logging.getLogger("budget_exporter")


def parse_time(text: str) -> datetime:
    """An ISO 8601 time; without an offset it is taken as UTC."""
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def bind_address(listen: str) -> str:
    """Prometheus-style ``:PORT`` / ``HOST:PORT`` to a gunicorn bind string."""
    host, _, port = listen.rpartition(":")
    if not port.isdigit():
        raise argparse.ArgumentTypeError(f"invalid listen address {listen!r}; use HOST:PORT")
    return f"{host or '0.0.0.0'}:{port}"


def _seconds_between(text: str, low: float, high: float, bounds: str) -> float:
    try:
        value = parse_duration(text).total_seconds()
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    if not low <= value <= high:
        raise argparse.ArgumentTypeError(f"{text} is not between {bounds}")
    return value


def header_timeout(text: str) -> float:
    """A duration such as ``10s`` for ``--web.read-header-timeout``, in seconds."""
    return _seconds_between(text, MIN_HEADER_TIMEOUT, MAX_HEADER_TIMEOUT, "1s and 5m")


def write_timeout(text: str) -> float:
    """A duration such as ``60s`` for ``--web.write-timeout``, in seconds."""
    return _seconds_between(text, MIN_WRITE_TIMEOUT, MAX_WRITE_TIMEOUT, "1s and 10m")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="budget-exporter",
        description="Prometheus exporter for cost budgets and SLO error budgets.",
    )
    parser.add_argument("--version", action="version", version=f"budget-exporter {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    def common(sub: argparse.ArgumentParser) -> None:
        sub.add_argument(
            "--config.file",
            "--config",
            dest="config_file",
            metavar="FILE",
            default=None,
            help="YAML config file (default: the bundled demo config)",
        )
        sub.add_argument(
            "--log.level",
            dest="log_level",
            default="info",
            choices=["debug", "info", "warning", "error"],
            help="log verbosity (default: info)",
        )

    serve = commands.add_parser("serve", help="run the exporter under gunicorn")
    common(serve)
    serve.add_argument(
        "--web.listen-address",
        dest="listen",
        default=DEFAULT_LISTEN,
        type=bind_address,
        help=f"address to listen on (default: {DEFAULT_LISTEN})",
    )
    serve.add_argument(
        "--web.workers",
        dest="workers",
        type=int,
        default=2,
        help="gunicorn worker processes; they share one refresher (default: 2)",
    )
    serve.add_argument(
        "--state.dir",
        dest="state_dir",
        default=None,
        help="folder for the last good data and exposition (default: config state_dir, "
        "else under $XDG_STATE_HOME)",
    )
    serve.add_argument(
        "--web.config.file",
        dest="web_config_file",
        metavar="FILE",
        default=None,
        help="exporter-toolkit web config: TLS and basic auth (tls_server_config, "
        "basic_auth_users)",
    )
    serve.add_argument(
        "--web.read-header-timeout",
        dest="read_header_timeout",
        type=header_timeout,
        default=DEFAULT_READ_HEADER_TIMEOUT,
        metavar="DURATION",
        help="close a connection whose request line and headers take longer than this "
        "(default: 10s; 1s to 5m)",
    )
    serve.add_argument(
        "--web.write-timeout",
        dest="write_timeout",
        type=write_timeout,
        default=DEFAULT_WRITE_TIMEOUT,
        metavar="DURATION",
        help="reset a connection whose client has not read the whole answer within this "
        "(default: 60s; 1s to 10m)",
    )
    serve.add_argument(
        "--web.enable-lifecycle",
        dest="lifecycle",
        action="store_true",
        help="accept POST /-/reload to reload the config (SIGHUP always does)",
    )
    serve.add_argument(
        "--web.enable-reservations",
        dest="reservations",
        action="store_true",
        help="accept POST and DELETE under /api/v1/budgets/NAME/reservations to hold planned "
        "spend (behind the web config's basic auth when it sets one)",
    )

    check = commands.add_parser("check", help="validate the config and try each provider once")
    common(check)
    check.add_argument(
        "--web.config.file",
        dest="web_config_file",
        metavar="FILE",
        default=None,
        help="also validate this web config file (as serve reads it)",
    )
    check.add_argument("--at", type=parse_time, default=None, help="evaluate as of this time")

    once = commands.add_parser("once", help="collect once and print the exposition")
    common(once)
    once.add_argument(
        "--at",
        type=parse_time,
        default=None,
        help="fix 'now' for every calculation, e.g. 2024-09-20T12:00:00Z (reproducible output)",
    )

    report = commands.add_parser("report", help="print the status of every budget and SLO now")
    admit = commands.add_parser(
        "admit",
        help="does a planned spend fit a budget? exit 0 yes, 1 no, 2 usage or unknown budget, "
        "3 fits but the forecast overruns, 4 no figures",
    )
    for sub in (report, admit):
        common(sub)
        sub.add_argument(
            "--at",
            type=parse_time,
            default=None,
            help="evaluate as of this time (fetches the providers instead of reading the snapshot)",
        )
    add_report_arguments(report, admit)

    backfill = commands.add_parser(
        "backfill", help="evaluate past steps from the data in hand and write TSDB blocks"
    )
    common(backfill)
    add_backfill_arguments(backfill, parse_time)
    return parser


def _load(path: str | None) -> Config | None:
    from ..config.loader import load_config

    try:
        return load_config(path)
    except ConfigError as error:
        print(f"config invalid: {len(error.problems)} problem(s)", file=sys.stderr)
        for problem in error.problems:
            print(f"  {problem}", file=sys.stderr)
        return None


def _load_web(path: str) -> LoadedWebConfig | None:
    """The web config file, validated; None (problems printed) when it is invalid."""
    from ..service.webconfig import load_web_config

    try:
        return load_web_config(path)
    except ConfigError as error:
        print(f"web config invalid: {len(error.problems)} problem(s)", file=sys.stderr)
        for problem in error.problems:
            print(f"  {problem}", file=sys.stderr)
        return None


def command_check(args: argparse.Namespace) -> int:
    """Validate the config (and web config), then fetch each provider once."""
    from ..config.checks import threshold_warnings
    from ..config.hierarchy import allocation_warnings
    from ..service.folder import folder_problem

    config = _load(args.config_file)
    web = _load_web(args.web_config_file) if args.web_config_file else None
    if config is None or (args.web_config_file and web is None):
        return EXIT_BAD_CONFIG
    if web is not None:
        print(f"web config ok: {web.source}: {web.summary()}")
    problem = folder_problem(Path(config.state_dir)) if config.state_dir else None
    if problem is not None:
        # Reported with the rest: the providers are still tried below.
        if problem[1]:
            print(f"config invalid: {config.source}: state_dir: {problem[0]}", file=sys.stderr)
        else:
            print(f"warning: {problem[0]}")
    print(
        f"config ok: {config.source}: {len(config.providers)} provider(s), "
        f"{len(config.budgets)} budget(s)"
    )
    for warning in [*allocation_warnings(config), *threshold_warnings(config)]:
        print(f"warning: {warning}")
    # The providers' code (pandas, SDKs, HTTP clients) loads only once the config is valid.
    from ..evaluation.evaluate import made_budgets, unknown_filter_keys
    from ..service.refresh import Refresher

    now = args.at or datetime.now(UTC)
    refresher = Refresher(config)
    refresher.refresh(now, list(refresher.providers))
    failed = 0
    for name, health in refresher.health.items():
        if health.up:
            data = refresher.data.get(name) or refresher.incidents[name]
            print(
                f"provider {name} ({health.type}): ok, {health.rows} rows from "
                f"{data.sources} source(s), {health.bad_rows} bad row(s)"
            )
            for row in data.bad_rows.examples[:5]:
                print(f"  bad row: {row}")
        else:
            failed += 1
            print(f"provider {name} ({health.type}): FAILED: {health.last_error}")
    for warning in unknown_filter_keys(config, refresher.data):
        print(f"warning: {warning}")
    for template, names in made_budgets(config, refresher.data, now).items():
        listed = ", ".join(names) if names else "none yet (no value spent this period)"
        print(f"template {template}: {len(names)} budget(s): {listed}")
    if problem is not None and problem[1]:
        return EXIT_BAD_CONFIG
    return EXIT_PROVIDER_FAILED if failed else EXIT_OK


def command_once(args: argparse.Namespace) -> int:
    """One collection; the exposition on stdout."""
    from ..metrics.exposition import render
    from ..service.refresh import Refresher

    config = _load(args.config_file)
    if config is None:
        return EXIT_BAD_CONFIG
    now = args.at or datetime.now(UTC)
    refresher = Refresher(config, fit_every_forecast=True)
    refresher.refresh(now, list(refresher.providers))
    sys.stdout.buffer.write(render(refresher.snapshot(now)))
    sys.stdout.flush()
    return EXIT_PROVIDER_FAILED if not all(h.up for h in refresher.health.values()) else EXIT_OK


def command_serve(args: argparse.Namespace) -> int:
    """Run the production server (gunicorn) in the foreground."""
    from ..service.folder import folder_problem

    config = _load(args.config_file)
    if config is None:
        return EXIT_BAD_CONFIG
    from ..service.folder import state_folder
    from ..service.lifecycle import ConfigHolder
    from ..service.server import GunicornServer, gunicorn_settings
    from ..service.state import StateDir, StateDirTaken
    from ..service.webconfig import WebConfigHolder
    from ..service.wsgi import create_app

    web = None
    if args.web_config_file:
        loaded = _load_web(args.web_config_file)
        if loaded is None:
            return EXIT_BAD_CONFIG
        web = WebConfigHolder(loaded)
    # The master keeps the folder's mark for its lifetime; its workers share it.
    folder = state_folder(args.state_dir, config)
    problem = folder_problem(folder)
    if problem is not None and problem[1]:
        print(f"cannot serve: {problem[0]}", file=sys.stderr)
        return EXIT_BAD_CONFIG
    state = StateDir(folder)
    try:
        state.claim(config.source)
    except StateDirTaken as error:
        print(f"cannot serve: {error}", file=sys.stderr)
        return EXIT_BAD_CONFIG
    # Workers are forked from the master and start with its last good config (see lifecycle).
    holder = ConfigHolder(config)

    def factory() -> Any:
        _configure_logging(args.log_level)
        app = create_app(
            state_dir=args.state_dir,
            config=holder.config,
            lifecycle=args.lifecycle,
            web_config_file=args.web_config_file,
            reservations=args.reservations,
        )
        if web is None:
            return app
        # One bcrypt check at a time across the workers, through a file they all see.
        folder = app.service.state.path if app.service is not None else None
        return web.current.wrap(app, lock_file=folder / "auth.lock" if folder else None)

    def before_reload() -> dict[str, Any] | None:
        holder.reload()
        if web is None:
            return None
        web.reload()
        return web.current.gunicorn_settings()

    settings = gunicorn_settings(
        args.listen, args.workers, args.log_level, args.read_header_timeout, args.write_timeout
    )
    if web is not None:
        settings.update(web.current.gunicorn_settings())
    scheme = "https" if web is not None and web.current.cert_file else "http"
    log.info(
        "budget-exporter %s listening on %s (%s), state in %s",
        __version__,
        args.listen,
        scheme,
        state.path,
    )
    GunicornServer(factory, settings, before_reload=before_reload).run()
    return EXIT_OK


def _configure_logging(level: str) -> None:
    logging.basicConfig(
        level=getattr(logging, level.upper()),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``budget-exporter`` command."""
    args = _parser().parse_args(argv)
    _configure_logging(args.log_level)
    handler = {"serve": command_serve, "check": command_check, "once": command_once}
    if args.command in ("report", "admit", "backfill"):
        from .backfill import command_backfill
        from .report import command_admit, command_report

        config = _load(args.config_file)
        if config is None:
            return EXIT_BAD_CONFIG
        commands = {"report": command_report, "admit": command_admit, "backfill": command_backfill}
        return commands[args.command](config, args)
    return handler[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
