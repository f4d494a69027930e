"""How long ``check`` takes to validate a config of many budgets, step by step.

A config of ``--budgets`` budgets over one CSV file: a parent per 10 budgets, the others its
children, with filters and labels as in bench/scrape.py. Times, in one process: the first
``load_config`` (as ``check`` makes it); reading the YAML alone (``load_yaml_document``:
composing, the alias measure, construction) and the whole ``load_config`` again, the median of
``--repeat`` of each in turn; the hierarchy's ``allocation_warnings``; the whole ``check``
command (which also reads the CSV once).

    .venv/bin/python bench/check_speed.py --budgets 10000
    .venv/bin/python bench/check_speed.py --budgets 10000 --before main --rounds 5
    .venv/bin/python bench/check_speed.py --budgets 10000 --stages

With ``--anchor`` every budget has the same filter, written once with an anchor and then by
alias, so the alias measure runs.

With ``--stages`` it times each stage of reading the config on its own instead, with the
cycle collector running and paused, including the stages the load now runs only when needed
(the alias measure, PyYAML's constructor, the duplicate-key and environment walks).

With ``--before REV`` the package of that git revision and this checkout's take turns, each
run in a process of its own (before, after, before, after...), and the medians of the rounds
are printed side by side with the median ratio of the pairs, so both meet the same load.

Prints JSON records; bench/README.md keeps the results.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PERIODS = ("daily", "weekly", "monthly", "quarterly", "yearly")
FIGURES = (
    "first_load_config_seconds",
    "yaml_seconds",
    "load_config_seconds",
    "allocation_warnings_seconds",
    "check_seconds",
    "max_rss_mib",
)


def write_config(folder: Path, budgets: int, anchor: bool = False) -> Path:
    (folder / "costs.csv").write_text("date,cost,team\n2024-09-01,10,web\n2024-09-02,20,data\n")
    lines = ["providers:", "  costs: {type: csv, paths: [costs.csv]}", "budgets:"]
    for i in range(budgets):
        parent = "" if i % 10 == 0 else f", parent: b{i - i % 10:05d}"
        amount = 100_000 if i % 10 == 0 else 1000 + i
        team = "{team: [web]}"
        if anchor:  # one filter for all, written once
            team = f"&web {team}" if i == 0 else "*web"
        lines.append(
            f"  - {{name: b{i:05d}, amount: {amount}, period: {PERIODS[i % 5]}, "
            f"filter: {team}, labels: {{team: t{i % 50}}}{parent}}}"
        )
    path = folder / "config.yml"
    path.write_text("\n".join(lines) + "\n")
    return path


def run(budgets: int, repeat: int, anchor: bool) -> dict[str, float | int]:
    # Imported here so that --before can run another revision's package in a child process.
    import resource

    from budget_exporter.cli.commands import main as cli
    from budget_exporter.config.hierarchy import allocation_warnings
    from budget_exporter.config.loader import load_config
    from budget_exporter.config.yaml_source import load_yaml_document

    with tempfile.TemporaryDirectory() as folder:
        path = write_config(Path(folder), budgets, anchor)
        text = path.read_text(encoding="utf-8")
        began = time.perf_counter()
        load_config(path)  # as check does it: once, in a process that has read nothing yet
        first = time.perf_counter() - began
        parses, loads = [], []
        for _ in range(repeat):
            began = time.perf_counter()
            load_yaml_document(text, str(path))
            parsed = time.perf_counter()
            config = load_config(path)
            loaded = time.perf_counter()
            parses.append(parsed - began)
            loads.append(loaded - parsed)
        warnings = allocation_warnings(config)
        warned = time.perf_counter()
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            code = cli(["check", "--config.file", str(path), "--at", "2024-09-03T00:00:00Z"])
        checked = time.perf_counter()
    return {
        "budgets": budgets,
        "first_load_config_seconds": round(first, 3),
        "yaml_seconds": round(statistics.median(parses), 3),
        "load_config_seconds": round(statistics.median(loads), 3),
        "allocation_warnings_seconds": round(warned - loaded, 3),
        "warnings": len(warnings),
        "check_seconds": round(checked - warned, 3),
        "check_exit_code": code,
        "max_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


def stages(budgets: int, repeat: int) -> dict[str, dict[str, float]]:
    """Each stage of reading the config, alone: the median of ``repeat`` runs of it."""
    import copy
    import gc

    from budget_exporter.config import loader, yaml_source
    from budget_exporter.config.checks import (
        cross_checks,
        declared_provider_types,
        source_checks,
        validate_providers,
    )
    from budget_exporter.config.schema import Config
    from budget_exporter.model.yamlguard import check_node

    with tempfile.TemporaryDirectory() as folder:
        path = write_config(Path(folder), budgets)
        text = path.read_text(encoding="utf-8")

        def compose() -> Any:
            reader = yaml_source._Loader(text)
            try:
                return reader.get_single_node()
            finally:
                reader.dispose()

        node = compose()
        data = yaml_source._construct_tree(yaml_source._Loader(text), node, 10**9)[0]

        def checked() -> dict[str, Any]:
            raw = {**data, "providers": copy.deepcopy(data["providers"])}
            names = validate_providers(raw, [])
            cross_checks(raw, names)
            source_checks(raw, declared_provider_types(raw))
            return raw

        raw = checked()
        steps: dict[str, Callable[[], object]] = {
            "compose (libyaml)": compose,
            "alias measure (check_node)": lambda: check_node(node),
            "construct (PyYAML)": lambda: yaml_source._Loader(text).construct_document(node),
            "construct (from the nodes)": lambda: yaml_source._construct_tree(
                yaml_source._Loader(text), node, 10**9
            ),
            "duplicate_keys": lambda: yaml_source.duplicate_keys(node, ()),
            "expand_environment": lambda: loader.expand_environment(data, (), []),
            "providers, names, references": checked,
            "Config.model_validate": lambda: Config.model_validate(raw),
        }
        figures = {}
        for name, step in steps.items():
            times: dict[str, list[float]] = {"collector_on": [], "paused": []}
            for _ in range(repeat):
                for mode, spent in times.items():
                    if mode == "paused":
                        gc.disable()
                    began = time.perf_counter()
                    step()
                    spent.append(time.perf_counter() - began)
                    gc.enable()
            figures[name] = {
                mode: round(statistics.median(spent), 3) for mode, spent in times.items()
            }
    return figures


def side_by_side(revision: str, budgets: int, repeat: int, rounds: int, anchor: bool) -> None:
    """Runs of ``revision`` and of this checkout in turn; the medians of each figure."""
    with tempfile.TemporaryDirectory() as folder:
        archive = subprocess.run(
            ["git", "archive", revision, "exporter"], cwd=ROOT, check=True, capture_output=True
        ).stdout
        subprocess.run(["tar", "-x", "-C", folder], input=archive, check=True)
        trees = {"before": Path(folder) / "exporter", "after": ROOT / "exporter"}
        records: dict[str, list[dict[str, float]]] = {"before": [], "after": []}
        for _ in range(rounds):
            for label, tree in trees.items():
                command = [sys.executable, __file__, "--budgets", str(budgets)]
                command += ["--repeat", str(repeat), *(["--anchor"] if anchor else [])]
                answer = subprocess.run(
                    command,
                    env={**os.environ, "PYTHONPATH": str(tree)},
                    check=True,
                    capture_output=True,
                    text=True,
                ).stdout
                records[label].append(json.loads(answer))
    for label, runs in records.items():
        medians = {name: statistics.median(run[name] for run in runs) for name in FIGURES}
        lows = {name: min(run[name] for run in runs) for name in FIGURES}
        tree = revision if label == "before" else "this checkout"
        print(json.dumps({"code": tree, "rounds": rounds, "median": medians, "min": lows}))
    # Each pair ran back to back, so its ratio holds when the machine's load drifts.
    ratios = {
        name: round(
            statistics.median(
                old[name] / new[name]
                for old, new in zip(records["before"], records["after"], strict=True)
            ),
            2,
        )
        for name in FIGURES
    }
    print(json.dumps({"before_over_after_median_of_pairs": ratios}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--budgets", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3, help="loads of the config per process")
    parser.add_argument("--before", help="also run the package of this git revision, in turn")
    parser.add_argument("--rounds", type=int, default=5, help="runs of each side with --before")
    parser.add_argument("--stages", action="store_true", help="time each stage on its own")
    parser.add_argument("--anchor", action="store_true", help="budgets share a filter by alias")
    args = parser.parse_args()
    if not 1 <= args.budgets <= 100_000:
        parser.error("1 to 100,000 budgets")
    if not 1 <= args.repeat <= 20 or not 1 <= args.rounds <= 20:
        parser.error("--repeat and --rounds take 1 to 20")
    if args.stages:
        for name, figures in stages(args.budgets, args.repeat).items():
            print(json.dumps({"stage": name, **figures}), flush=True)
    elif args.before:
        side_by_side(args.before, args.budgets, args.repeat, args.rounds, args.anchor)
    else:
        print(json.dumps(run(args.budgets, args.repeat, args.anchor)), flush=True)


if __name__ == "__main__":
    main()
