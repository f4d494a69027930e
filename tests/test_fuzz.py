"""Fuzz targets, one per file parser: CSV cost files, FOCUS files, incident files, the YAML config
and the web config get mutated copies of real fixtures and must either read them (with the
invariants of a good read) or refuse them with the project's own error naming the file.

The examples are derandomized and the budget fixed, so CI runs the same inputs every time in a
bounded time. ``BUDGET_EXPORTER_FUZZ_EXAMPLES=2000`` runs that many per target instead (see
docs/reliability.md).
"""

from __future__ import annotations

import codecs
import gzip
import math
import os
import signal
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st

from attacks import attack
from budget_exporter.config.loader import load_config, parse_config
from budget_exporter.model.costs import CostData
from budget_exporter.model.errors import ConfigError, ProviderError
from budget_exporter.model.incidents import IncidentData
from budget_exporter.providers.base import ProviderContext
from budget_exporter.providers.registry import build_provider
from budget_exporter.service.webconfig import load_web_config
from conftest import FOCUS_SAMPLE, ROOT

# Examples per cost file target (each a read of about 0.1 s); the text parsers take a few ms an
# input and get eight times as many.
CI_EXAMPLES = 25
EXAMPLES = int(os.environ.get("BUDGET_EXPORTER_FUZZ_EXAMPLES", str(CI_EXAMPLES)))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
FUZZ_TEXT = settings(FUZZ, max_examples=EXAMPLES * 8)
# One input that takes longer than this has found a hang (a read takes about 0.1 s).
HANG_SECONDS = 20
NOW = datetime(2024, 9, 20, tzinfo=UTC)
INCIDENTS_NOW = datetime(2026, 3, 15, 12, tzinfo=UTC)

CSV_SEED = b"date,cost,team\n2024-09-01,10.5,web\n2024-09-02,5,api\n2024-09-03,0.25,web\n"
FOCUS_SEED = b"".join(FOCUS_SAMPLE.read_bytes().splitlines(keepends=True)[:13])
INCIDENTS_SEED = b"""\
incidents:
  - id: INC-1
    service: api
    title: Database failover
    start: 2026-03-14T10:00:00Z
    end: 2026-03-14T10:21:36Z
    urgency: high
  - id: INC-2
    service: api
    title: Quarterly patching
    start: 2026-03-13T02:00:00
    duration: 1h
    category: maintenance
  - id: INC-3
    service: api
    title: Still burning
    start: 2026-03-15T11:50:00+01:00
    impact: 0.5
"""
INCIDENTS_CSV_SEED = b"""\
id,service,title,start,end,duration,category,impact
C-1,search,Index rebuild,2026-03-10T08:00:00Z,,30m,deployment,
C-3,search,Partial outage,2026-03-12T08:00:00Z,2026-03-12T09:00:00Z,,incident,0.25
"""
CONFIG_SEEDS = [
    (ROOT / "exporter" / "budget_exporter" / "demo" / "demo.yml").read_bytes(),
    (ROOT / "tests" / "fixtures" / "focus.yml").read_bytes(),
]
WEB_SEED = b"""\
tls_server_config:
  cert_file: server.crt
  key_file: server.key
  min_version: TLS12
basic_auth_users:
  prometheus: $2b$04$Yq5ws6Rfr/ccOVUHsrTSu.gtQ1.9zpyycSJEM0Sb4R1K2tPK0Dgvq
"""

# Values a careless export or a hostile file puts in a cell.
NASTY = [
    "",
    " ",
    "nan",
    "NaN",
    "inf",
    "-inf",
    "1e309",
    "-1e309",
    "1e13",
    "9" * 400,
    "0x10",
    "1_000",
    "-0",
    "1e-320",
    "2024-02-30",
    "2024-13-01",
    "9999-01-01",
    "0001-01-01",
    "09/05/2023",
    "20230905",
    "2024-09-01T25:00:00Z",
    "null",
    "~",
    "[]",
    "{}",
    "&a",
    "*a",
    "!!python/object:os.system",
    '"',
    "'",
    "\\",
    "\x00",
    "\u00e9",
    "\ud7ff",
    "\u202e",
    ",",
    "\t",
    "\r",
    "true",
    "-1",
    "1.5",
    "1e12",
]
ENCODINGS = ["latin-1", "utf-16", "utf-16-le", "cp1252", "utf-8-sig"]
BOMS = [codecs.BOM_UTF8, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE]

# One edit of the bytes; (kind, position in [0, 1], payload).
edits = st.one_of(
    st.tuples(st.just("flip"), st.floats(0, 1), st.integers(1, 255)),
    st.tuples(st.just("truncate"), st.floats(0, 1), st.none()),
    st.tuples(st.just("insert"), st.floats(0, 1), st.binary(min_size=1, max_size=12)),
    st.tuples(st.just("delete"), st.floats(0, 1), st.integers(1, 40)),
    st.tuples(st.just("cell"), st.floats(0, 1), st.sampled_from(NASTY)),
    st.tuples(st.just("line"), st.floats(0, 1), st.integers(0, 3)),
    st.tuples(st.just("crlf"), st.just(0.0), st.none()),
    st.tuples(st.just("bom"), st.just(0.0), st.sampled_from(BOMS)),
    st.tuples(st.just("encode"), st.just(0.0), st.sampled_from(ENCODINGS)),
)


def _at(data: bytes, position: float) -> int:
    return min(len(data), int(position * len(data)))


def _replace_cell(data: bytes, position: float, value: str) -> bytes:
    """Replace the token (between separators) at ``position`` by ``value``."""
    start = _at(data, position)
    separators = b",\n:"
    while start > 0 and data[start - 1] not in separators:
        start -= 1
    end = start
    while end < len(data) and data[end] not in separators:
        end += 1
    return data[:start] + value.encode("utf-8", "surrogatepass") + data[end:]


def _line_edit(data: bytes, position: float, how: int) -> bytes:
    """Duplicate (0), drop (1), double the fields of (2) or empty (3) the line at ``position``."""
    lines = data.splitlines(keepends=True)
    if not lines:
        return data
    index = min(len(lines) - 1, int(position * len(lines)))
    line = lines[index]
    replacement = [[line, line], [], [line.rstrip(b"\r\n") + b"," + line], [b"\n"]][how]
    return b"".join(lines[:index] + replacement + lines[index + 1 :])


def apply(data: bytes, changes: list[tuple[str, float, Any]]) -> bytes:
    """``data`` with every edit applied in turn."""
    for kind, position, payload in changes:
        at = _at(data, position)
        if kind == "flip" and data:
            at = min(at, len(data) - 1)
            data = data[:at] + bytes([data[at] ^ payload]) + data[at + 1 :]
        elif kind == "truncate":
            data = data[:at]
        elif kind == "insert":
            data = data[:at] + payload + data[at:]
        elif kind == "delete":
            data = data[:at] + data[at + payload :]
        elif kind == "cell":
            data = _replace_cell(data, position, payload)
        elif kind == "line":
            data = _line_edit(data, position, payload)
        elif kind == "crlf":
            data = data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
        elif kind == "bom":
            data = payload + data
        elif kind == "encode":
            text = data.decode("utf-8", "replace")
            data = text.encode(payload, "replace")
    return data


def mutated(seed: bytes) -> st.SearchStrategy[bytes]:
    """Copies of ``seed`` with one to four edits."""
    return st.lists(edits, min_size=1, max_size=4).map(lambda changes: apply(seed, changes))


@contextmanager
def bounded(seconds: int = HANG_SECONDS) -> Iterator[None]:
    """Fail instead of hanging: one input must be read (or refused) within ``seconds``."""

    def hang(signum: int, frame: object) -> None:
        raise AssertionError(f"an input took longer than {seconds} s: a hang")

    previous = signal.signal(signal.SIGALRM, hang)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def fetch_file(
    provider_yaml: str, name: str, content: bytes, now: datetime
) -> tuple[Path, Callable[[], Any], tempfile.TemporaryDirectory[str]]:
    """A provider reading one file holding ``content`` in a fresh folder (no file cache)."""
    folder = tempfile.TemporaryDirectory()
    path = Path(folder.name) / name
    path.write_bytes(content)
    config = parse_config(
        f"providers:\n  p: {{{provider_yaml}, paths: ['{name}']}}\n", "c.yml", folder.name
    )
    settings_ = config.providers["p"]
    context = ProviderContext(config.timezone, config.currency, config.base_dir)
    provider = build_provider("p", settings_, context)
    return path, lambda: provider.fetch(now), folder


def assert_cost_contract(data: CostData, path: Path) -> None:
    """A good read: finite costs within the documented bound, bad rows named by file and line."""
    costs = data.frame["cost"]
    assert all(math.isfinite(cost) for cost in costs), costs.tolist()
    assert math.isfinite(float(costs.sum()))
    assert data.bad_rows.count >= len(data.bad_rows.examples)
    for bad in data.bad_rows.examples:
        assert bad.source == str(path) and bad.line >= 1 and bad.reason, bad


def read_costs(provider_yaml: str, name: str, content: bytes) -> CostData | None:
    """Read ``content`` and check the contract; None when the provider refused it clearly."""
    path, fetch, folder = fetch_file(provider_yaml, name, content, NOW)
    with folder, bounded():
        try:
            data = fetch()
        except ProviderError as error:
            assert str(path) in str(error), str(error)
            assert str(error).startswith("provider p: ")
            event("refused")
            return None
    event("read")
    assert isinstance(data, CostData)
    assert_cost_contract(data, path)
    return data


@attack(
    "fuzzing",
    "mutated CSV cost files, plain and gzip",
    "read with finite costs and bad rows named, or refused naming the file",
    count=CI_EXAMPLES,
)
@FUZZ
@given(mutated(CSV_SEED), st.sampled_from(["costs.csv", "costs.csv.gz"]))
def test_a_mutated_csv_cost_file_is_read_or_refused_naming_it(content: bytes, name: str) -> None:
    if name.endswith(".gz"):
        content = gzip.compress(content, mtime=0)
    read_costs("type: csv, dimensions: [team]", name, content)


@attack(
    "fuzzing",
    "mutated FOCUS files",
    "read with finite costs and bad rows named, or refused naming the file",
    count=CI_EXAMPLES,
)
@FUZZ
@given(mutated(FOCUS_SEED))
def test_a_mutated_focus_file_is_read_or_refused_naming_it(content: bytes) -> None:
    read_costs("type: focus", "focus.csv", content)


GOOD_DATES = [f"2024-09-{day:02d}" for day in range(1, 20)] + ["2024-10-15"]  # kept: 25 days on
BAD_DATES = ["", "2024-02-30", "2024-13-01", "9999-01-01", "0001-01-01", "soon", "2024-09-01x"]
good_costs = st.floats(-1e12, 1e12, allow_nan=False).map(repr) | st.integers(-(10**6), 10**6).map(
    str
)
BAD_COSTS = ["", "nan", "inf", "-inf", "1e13", "-1e13", "1e309", "abc", "0x10", "1.2.3"]
rows = st.lists(
    st.tuples(
        st.sampled_from(GOOD_DATES) | st.sampled_from(BAD_DATES),
        good_costs | st.sampled_from(BAD_COSTS),
    ),
    min_size=1,
    max_size=40,
)


def _good(date: str, cost: str) -> bool:
    return date in GOOD_DATES and cost not in BAD_COSTS


@attack(
    "cost and incident files",
    "a CSV row dated 0001-01-01 beside good rows (found by fuzzing)",
    "one bad row, the rest read",
    found="dates before 1677",
)
@attack(
    "fuzzing",
    "CSV files of known good and bad rows",
    "the good rows summed exactly, every other counted bad",
    count=CI_EXAMPLES,
)
@FUZZ
@given(rows, st.booleans())
@example([("2024-09-01", "1e12"), ("2024-09-02", "1e13")], False)
# pandas reads 0001-01-01 as a date (in microseconds); the cost frame could not hold it and the
# whole file failed with OutOfBoundsDatetime.
@example([("2024-09-03", "1"), ("0001-01-01", "5")], False)
def test_every_row_of_a_csv_file_is_summed_or_counted_bad_never_lost(
    cells: list[tuple[str, str]], crlf: bool
) -> None:
    end = "\r\n" if crlf else "\n"
    text = end.join(["date,cost", *(f"{date},{cost}" for date, cost in cells)]) + end
    data = read_costs("type: csv", "costs.csv", text.encode())
    good = [float(cost) for date, cost in cells if _good(date, cost)]
    bad = len(cells) - len(good)
    if data is None:
        # Refused only as the documented rule says: every row bad, or from 10 rows most.
        assert bad == len(cells) or (len(cells) >= 10 and bad > 0.9 * len(cells)), cells
        return
    assert data.bad_rows.count == bad, (cells, [str(row) for row in data.bad_rows.examples])
    scale = sum(abs(cost) for cost in good)
    assert abs(float(data.frame["cost"].sum()) - math.fsum(good)) <= 1e-9 * scale + 1e-9


def assert_incident_contract(data: IncidentData, path: Path) -> None:
    for incident in data.incidents:
        assert incident.start.tzinfo is not None
        assert incident.end is None or incident.end >= incident.start, incident
        assert math.isfinite(incident.impact) and 0 <= incident.impact <= 1, incident
    for bad in data.bad_rows.examples:
        assert bad.source == str(path) and bad.line >= 1 and bad.reason, bad


@attack(
    "cost and incident files",
    "an incident file with a date the calendar lacks, 2024-02-30 (found by fuzzing)",
    "one bad row with its line",
    found="dates the calendar lacks",
)
@attack(
    "fuzzing",
    "mutated incident files (YAML, JSON, CSV)",
    "read with valid incidents, or refused naming the file",
    count=CI_EXAMPLES * 8,
)
@FUZZ_TEXT
@given(
    st.one_of(
        mutated(INCIDENTS_SEED).map(lambda content: ("oncall.yaml", content)),
        mutated(INCIDENTS_CSV_SEED).map(lambda content: ("oncall.csv", content)),
        mutated(INCIDENTS_SEED).map(lambda content: ("oncall.json", content)),
    )
)
# YAML took 2024-02-30 for a date and raised a bare ValueError, failing the file unnamed.
@example(("oncall.yaml", b"- {id: A, service: api, start: 2024-02-30}\n"))
@example(("oncall.yaml", b"incidents: []\n2024-02-30: x\n"))
def test_a_mutated_incident_file_is_read_or_refused_naming_it(file: tuple[str, bytes]) -> None:
    name, content = file
    path, fetch, folder = fetch_file("type: incidents_file", name, content, INCIDENTS_NOW)
    with folder, bounded():
        try:
            data = fetch()
        except ProviderError as error:
            assert str(path) in str(error), str(error)
            event("refused")
            return
    event("read")
    assert isinstance(data, IncidentData)
    assert_incident_contract(data, path)


def assert_config_error_names(error: ConfigError, path: Path) -> None:
    assert error.problems
    for problem in error.problems:
        assert problem.file == str(path), problem
        assert problem.message, problem
        assert str(path) in str(problem)


@attack(
    "fuzzing",
    "mutated config files",
    "a config, or a ConfigError naming the file",
    count=CI_EXAMPLES * 8,
)
@FUZZ_TEXT
@given(st.sampled_from(range(len(CONFIG_SEEDS))).flatmap(lambda i: mutated(CONFIG_SEEDS[i])))
def test_a_mutated_config_file_is_a_config_or_a_config_error_naming_it(content: bytes) -> None:
    with tempfile.TemporaryDirectory() as folder, bounded():
        path = Path(folder) / "config.yml"
        path.write_bytes(content)
        try:
            config = load_config(path)
        except ConfigError as error:
            assert_config_error_names(error, path)
            event("refused")
            return
    event("read")
    assert config.providers, "a config without providers was accepted"
    assert all(budget.amount is None or math.isfinite(budget.amount) for budget in config.budgets)


@pytest.fixture(scope="module")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> tuple[bytes, bytes]:
    from tlscerts import Authority

    server = Authority(tmp_path_factory.mktemp("pki")).issue("server")
    return server.cert.read_bytes(), server.key.read_bytes()


@attack(
    "fuzzing",
    "mutated web configs",
    "a config, or a ConfigError naming the file",
    count=CI_EXAMPLES * 8,
)
@FUZZ_TEXT
@given(content=mutated(WEB_SEED))
def test_a_mutated_web_config_is_loaded_or_refused_naming_it(
    content: bytes, certificates: tuple[bytes, bytes]
) -> None:
    with tempfile.TemporaryDirectory() as folder, bounded():
        base = Path(folder)
        (base / "server.crt").write_bytes(certificates[0])
        (base / "server.key").write_bytes(certificates[1])
        path = base / "web.yml"
        path.write_bytes(content)
        try:
            loaded = load_web_config(path)
        except ConfigError as error:
            assert_config_error_names(error, path)
            event("refused")
            return
    event("read")
    for user, hashed in loaded.config.basic_auth_users.items():
        assert user and ":" not in user
        assert hashed.startswith("$2")
