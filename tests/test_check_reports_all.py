"""``check`` reports every problem of a config, each with its key and line: bad dates, every bad
key of a mapping, NaN and booleans as amounts, thresholds out of order, absurdly small amounts,
and a state_dir that is a file."""

from __future__ import annotations

from pathlib import Path

import pytest

from attacks import attack
from budget_exporter.cli.commands import EXIT_BAD_CONFIG, main
from budget_exporter.config.loader import parse_config
from budget_exporter.model.errors import ConfigError

BASE = "providers:\n  costs: {type: csv, paths: [costs.csv]}\n"


def problems(text: str) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_config(text, "c.yml")
    return [str(problem) for problem in caught.value.problems]


@attack(
    "config files",
    "start: 2026-02-30, several bad rates, amount: true, .nan, 1e-300, thresholds out of order",
    "every problem reported with its key",
    found=13,
)
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            BASE + "budgets:\n"
            "  - {name: a, amount: 10, period: custom, start: 2026-02-30, end: 2026-03-05}\n"
            "  - {name: b, amount: -1, period: monthly}\n",
            [
                "c.yml:4: budgets[0].start: Input should be a valid date",
                "c.yml:5: budgets[1].amount: Input should be greater than 0",
            ],
        ),
        (
            "exchange_rates: {EUR: -1, GBP: 0, usd: 2}\n" + BASE,
            [
                "c.yml:1: exchange_rates: rate for EUR must be a positive number; "
                "rate for GBP must be a positive number; "
                "'usd' is not an ISO 4217 currency code",
            ],
        ),
        (
            "exchange_rates: {EUR: {2026-01: 1.1, 2026-13: 1.2, 2026-02: 0}}\n" + BASE,
            [
                "exchange_rates: rate month '2026-13' of EUR: write it as 2026-01; "
                "rate for EUR 2026-02 must be a positive number",
            ],
        ),
        (
            BASE + "budgets:\n  - {name: a, amount: .nan, period: monthly}\n",
            ["c.yml:4: budgets[0].amount: must be a finite number"],
        ),
        (
            BASE + "budgets:\n  - {name: a, amount: true, period: monthly}\n",
            ["c.yml:4: budgets[0].amount: must be a number, not true"],
        ),
        (
            BASE + "budgets:\n  - {name: a, amount: 1e-300, period: monthly}\n",
            ["c.yml:4: budgets[0].amount: must be at least 0.01 (a cent)"],
        ),
        (
            BASE + "budgets:\n"
            "  - {name: a, amount: 10, period: monthly,"
            " thresholds: {warning: 0.9, critical: 0.5}}\n",
            ["c.yml:4: budgets[0].thresholds: critical (0.5) is below warning (0.9)"],
        ),
        (
            "thresholds: {notice: 0.95, warning: 0.9}\n" + BASE,
            ["c.yml:1: thresholds: warning (0.9) is below notice (0.95)"],
        ),
    ],
    ids=[
        "a day the calendar lacks is named and the other problems still reported",
        "every bad exchange rate and code is reported",
        "every bad month of a rate table is reported",
        "NaN is not a finite number",
        "a boolean is not an amount",
        "an amount below a cent is a typo",
        "a critical threshold below the warning one",
        "a warning threshold below the notice one",
    ],
)
def test_check_reports_every_problem_with_its_key(text: str, expected: list[str]) -> None:
    found = problems(text)
    for line in expected:
        assert any(line in problem for problem in found), (line, found)


@attack(
    "config files",
    "state_dir: a file",
    "check and serve fail with a clear error, no traceback",
    found=13,
)
def test_a_state_dir_that_is_a_file_fails_check_and_serve_without_a_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "costs.csv").write_text("date,cost\n2024-09-01,10\n")
    taken = tmp_path / "passwd"
    taken.write_text("root:x:0:0\n")
    config = tmp_path / "config.yml"
    config.write_text(f"state_dir: {taken}\n" + BASE)
    assert main(["check", "--config.file", str(config)]) == EXIT_BAD_CONFIG
    captured = capsys.readouterr()
    assert f"state_dir: state directory {taken} is not a directory" in captured.err
    assert "provider costs (csv): ok" in captured.out  # the providers were still tried
    assert main(["serve", "--config.file", str(config)]) == EXIT_BAD_CONFIG
    captured = capsys.readouterr()
    assert f"cannot serve: state directory {taken} is not a directory" in captured.err
    assert "Traceback" not in captured.err
