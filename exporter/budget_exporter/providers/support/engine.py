"""Aggregate on read: an embedded columnar engine (DuckDB) scans, filters and groups cost files.

The engine streams CSV (plain or gzip) and Parquet, reads only the columns a provider asks for
and hands back one row per distinct combination of them (the text as written: a charge period,
a category, a currency, the dimensions budgets use), with the row count, the first line number
and the sums of the cost columns. The provider's own checks then run on those groups, so a
bad value is counted once per line that holds it and named by the first line that holds it.
Expressions of one column (the tag keys of a JSON cell) are computed once per distinct cell
where a Parquet file's cells repeat, and on each line otherwise: the values are the same.
"""

from __future__ import annotations

import csv
import gzip
import tempfile
import zlib
from collections.abc import Callable, Collection, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pandas as pd

from ...model.errors import ProviderError

T = TypeVar("T")

ROWS = "__rows"  # lines in the group
LINE = "__line"  # first line of the group, counting the CSV header as line 1
STATE = "__state"  # of the main cost cell: ok, nan (not a number) or absurd (infinite, > 1e12)
STATES = {0: "ok", 1: "nan", 2: "absurd"}

# The most a deflate stream can expand (RFC 1951 caps a match at 258 bytes per 2-bit code).
_MAX_DEFLATE_RATIO = 1032
_CHUNK = 1 << 20


@dataclass(frozen=True)
class ReadLimits:
    """Caps that turn a hostile or broken file into a clear error instead of an out-of-memory.

    ``max_decompressed_bytes``: the text of a gzip file; ``max_field_bytes``: one line of CSV;
    ``memory_bytes``: what the engine may hold before it spills to ``spill_dir``.
    """

    max_decompressed_bytes: int = 64 << 30
    max_field_bytes: int = 8 << 20
    memory_bytes: int = 768 << 20
    spill_dir: str | None = None


def is_parquet(path: Path) -> bool:
    """Whether ``path`` names a Parquet file."""
    return path.name.lower().endswith((".parquet", ".pq"))


def _is_gzip(path: Path) -> bool:
    with path.open("rb") as stream:
        return stream.read(2) == b"\x1f\x8b"


def check_decompressed_size(path: Path, provider: str, limit: int) -> None:
    """Refuse a gzip file whose text exceeds ``limit`` bytes, reading it in bounded memory.

    Files too small to reach the limit at deflate's highest ratio are not decompressed here.
    """
    if not _is_gzip(path) or path.stat().st_size * _MAX_DEFLATE_RATIO <= limit:
        return
    total = 0
    with path.open("rb") as raw:
        inflate = zlib.decompressobj(zlib.MAX_WBITS | 16)
        while chunk := raw.read(_CHUNK):
            while chunk:
                total += len(inflate.decompress(chunk, _CHUNK))
                chunk = inflate.unconsumed_tail
                if total > limit:
                    raise ProviderError(
                        f"provider {provider}: {path} decompresses to more than {limit:,} bytes "
                        "(max_decompressed_bytes); split the export or raise the cap"
                    )
            if inflate.eof:  # gzip files may hold several members one after the other
                rest = inflate.unused_data
                inflate = zlib.decompressobj(zlib.MAX_WBITS | 16)
                if rest:
                    total += len(inflate.decompress(rest, _CHUNK))


def complete_length(path: Path) -> int | None:
    """Bytes of a plain CSV up to its last newline, when a writer has not finished the last line.

    None when the file ends with a newline (or is compressed: gzip has its own end check).
    """
    size = path.stat().st_size
    if size == 0 or _is_gzip(path):
        return None
    with path.open("rb") as stream:
        end = size
        while end > 0:
            begin = max(end - _CHUNK, 0)
            stream.seek(begin)
            chunk = stream.read(end - begin)
            if end == size and chunk.endswith(b"\n"):
                return None
            cut = chunk.rfind(b"\n")
            if cut >= 0:
                return begin + cut + 1
            end = begin
    return 0


TAGS_BAD = "__tags_bad"  # the tag cell is not a JSON object
ROW_NUMBER = "file_row_number"  # the Parquet reader's own numbering of rows, from 0


def quote(name: str) -> str:
    """``name`` as an SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


_quote = quote


def tag_keys(column: str, dimensions: list[str]) -> dict[str, str]:
    """Expressions reading the ``tags.KEY`` dimensions from a JSON object column, and whether
    the cell is not a JSON object (``TAGS_BAD``); only the keys budgets use are read."""
    cell = quote(column)
    empty = f"{cell} IS NULL OR trim({cell}) IN ('', 'NULL', 'null')"
    # Each expression parses the cell once: text that is not JSON fails, and TRY makes it NULL
    # (parsing is most of the time of a read, so no separate json_valid).
    keys = {
        TAGS_BAD: f"CASE WHEN {empty} THEN false "
        f"ELSE coalesce(TRY(json_type({cell})) <> 'OBJECT', true) END"
    }
    for name in dimensions:
        if name.startswith("tags."):
            key = name.removeprefix("tags.").replace('"', '\\"').replace("'", "''")
            keys[name] = f"TRY(json_extract_string({cell}, '$.\"{key}\"'))"
    return keys


def schema(path: Path, provider: str, limits: ReadLimits) -> dict[str, str]:
    """Column name -> engine type: the header of a CSV (all text) or a Parquet file's schema."""
    with _reading(path, limits, provider) as source, _connect(limits) as connection:

        def read() -> dict[str, str]:
            relation = connection.sql(f"SELECT * FROM {source} LIMIT 0")
            found = zip(relation.columns, relation.types, strict=True)
            own = ROW_NUMBER if is_parquet(path) else None
            return {str(n): str(t) for n, t in found if n != own}

        return _guard(read, path, provider)


def grouped(
    path: Path,
    provider: str,
    limits: ReadLimits,
    *,
    keys: Mapping[str, str],
    cost: str,
    sums: Mapping[str, str] = {},
    strip_commas: bool = False,
    rename: Mapping[str, str] = {},
    where: str | None = None,
    cells: Mapping[str, Mapping[str, str]] = {},
    types: Mapping[str, str] | None = None,
) -> pd.DataFrame:
    """One row per distinct combination of ``keys``, with ``ROWS``, ``LINE``, ``STATE``, sums.

    ``keys`` maps an output name to an SQL expression over the file's columns (quoted names);
    ``cost`` is the column whose cell decides ``STATE``, summed as ``cost`` where it is ok;
    ``sums`` maps more output names to columns summed as numbers (cells that are not count 0).
    ``rename`` gives file columns other names before the expressions see them; ``where``, an
    SQL condition over them, keeps only the lines it holds for (their line numbers unchanged).
    ``cells`` maps a column to more keys computed from that column alone (output name -> SQL
    expression over it): where its cells repeat, each distinct cell is computed once.
    ``types`` is what ``schema`` said of the file, when the caller has it already.
    """
    check_decompressed_size(path, provider, limits.max_decompressed_bytes)
    types = dict(types) if types is not None else schema(path, provider, limits)
    types.update({new: types.get(old, "VARCHAR") for old, new in rename.items()})
    value = f"TRY_CAST({_clean(cost, types, strip_commas)} AS DOUBLE)"
    # NaN compares above every number, so one comparison tells an ok cost; the state is a
    # number in the engine (cheaper to group by than text) and named once per group here.
    ok = f"abs({value}) <= 1e12"
    state = f"CASE WHEN {ok} THEN 0 WHEN {value} IS NULL OR isnan({value}) THEN 1 ELSE 2 END"
    selected = [f"{expression} AS {_quote(name)}" for name, expression in keys.items()]
    selected.append(f"{state} AS {STATE}")
    selected.append(f"CASE WHEN {ok} THEN {value} END AS cost")
    for name, column in sums.items():
        selected.append(f"TRY_CAST({_clean(column, types, False)} AS DOUBLE) AS {_quote(name)}")
    derived = {name: expression for each in cells.values() for name, expression in each.items()}
    group = [_quote(name) for name in (*keys, *derived)] + [STATE]
    renamed = ", ".join(f"{_quote(old)} AS {_quote(new)}" for old, new in rename.items())
    star = f"* RENAME ({renamed})" if renamed else "*"
    # Parquet rows are numbered by the reader, so a condition reaches the scan (row groups and
    # columns of lines it rejects are skipped); CSV lines by their order (the header is line 1).
    line = f"{ROW_NUMBER} + 1" if is_parquet(path) else "row_number() OVER () + 1"
    condition = f"WHERE {where}" if where else ""

    def query(source: str, once: Collection[str]) -> str:
        """The grouping, the ``cells`` of the columns in ``once`` computed per distinct cell."""
        tables, joins, values = [], [], list(selected)
        for number, (column, expressions) in enumerate(cells.items()):
            if column not in once:
                values += [f"{e} AS {_quote(name)}" for name, e in expressions.items()]
                continue
            # Each distinct cell (of the lines kept) gets the same expressions once, in a table
            # joined back to the lines on the cell, NULL matching NULL: the values are those
            # the lines would get, computed fewer times.
            table, cell = f"__cells_{number}", f"__cell_{number}"
            outputs = {name: f"__value_{number}_{i}" for i, name in enumerate(expressions)}
            computed = ", ".join(f"{e} AS {outputs[name]}" for name, e in expressions.items())
            tables.append(
                f"{table} AS (SELECT {_quote(column)} AS {cell}, {computed} FROM "
                f"(SELECT DISTINCT {_quote(column)} FROM numbered {condition}))"
            )
            joins.append(
                f"LEFT JOIN {table} "
                f"ON numbered.{_quote(column)} IS NOT DISTINCT FROM {table}.{cell}"
            )
            values += [f"{table}.{outputs[name]} AS {_quote(name)}" for name in expressions]
        return f"""
            WITH numbered AS NOT MATERIALIZED (SELECT {star}, {line} AS {LINE} FROM {source}),
            {"".join(f"{table}, " for table in tables)}
            typed AS (
                SELECT {", ".join(values)}, numbered.{LINE} FROM numbered {" ".join(joins)}
                {condition}
            )
            SELECT {", ".join(group)}, count(*) AS {ROWS}, min({LINE}) AS {LINE},
                fsum(cost) AS cost
                {"".join(f", fsum({_quote(name)}) AS {_quote(name)}" for name in sums)}
            FROM typed GROUP BY ALL ORDER BY {LINE}
        """

    with _reading(path, limits, provider) as source, _connect(limits) as connection:

        def run() -> pd.DataFrame:
            # Only a Parquet file is cheap to look at twice (the one column, not the text).
            once = [c for c in cells if is_parquet(path) and _repeats(connection, source, c)]
            return connection.sql(query(source, once)).df()

        frame = _guard(run, path, provider)
    frame[STATE] = frame[STATE].map(STATES).astype("object")
    expressions = {**keys, **derived}
    blobs = {quote(c) for c, t in types.items() if t == "BLOB"}
    for name in expressions:
        values = frame[name]
        typed = pd.api.types.is_datetime64_any_dtype(values) or pd.api.types.is_numeric_dtype(
            values
        )
        if values.dtype != object and not typed:  # pandas' own text type: cells as plain str
            frame[name] = values.astype("object")
        elif types.get(name) == "BLOB" or expressions[name] in blobs:
            # Parquet BINARY as text: UTF-8, bytes that are not UTF-8 replaced (U+FFFD).
            frame[name] = values.map(
                lambda cell: (
                    bytes(cell).decode("utf-8", "replace")
                    if isinstance(cell, bytes | bytearray)
                    else cell
                )
            )
    return frame


# A column's distinct cells are computed once and joined back to the lines when they are at
# most this share of its lines. The distinct cells and the join cost about as much as a JSON
# parse of every line: on 5 M lines, 0.19 s against 0.38 s when 40 tag cells repeat, 2.0 s
# against 1.2 s when every cell differs (bench/README.md), so they pay only when cells repeat.
MAX_DISTINCT_SHARE = 0.25


def _repeats(connection: Any, source: str, column: str) -> bool:
    """Whether the cells of ``column`` repeat enough to compute each distinct one once.

    An estimate (HyperLogLog) from a scan of that one column; it decides the plan, never the
    values.
    """
    [(lines, distinct)] = connection.sql(
        f"SELECT count(*), approx_count_distinct({_quote(column)}) FROM {source}"
    ).fetchall()
    return bool(lines) and distinct <= lines * MAX_DISTINCT_SHARE


def may_end_after(since: pd.Timestamp, columns: list[str]) -> str:
    """The condition for the lines whose charge period may end after ``since``.

    ``columns`` are the start and, if the file has one, the end of the period. A line is left
    out only when each is a time no later than ``since``: its period ends by then whatever a
    provider makes of a missing or earlier end (at most an hour after its start). Cells that
    are not times are kept, to be read and counted as bad rows.
    """
    moment = f"TIMESTAMPTZ '{since.isoformat()}'"
    settled = " AND ".join(
        f"TRY_CAST({quote(n)} AS TIMESTAMPTZ) <= {moment} - INTERVAL 1 HOUR" for n in columns
    )
    return f"NOT coalesce({settled}, false)"


def distinct_cells(
    path: Path,
    provider: str,
    limits: ReadLimits,
    column: str,
    *,
    where: str,
    rename: Mapping[str, str] = {},
) -> pd.Series:
    """The distinct cells of ``column`` in the lines of the whole file where ``where`` holds."""
    renamed = ", ".join(f"{_quote(old)} AS {_quote(new)}" for old, new in rename.items())
    star = f"* RENAME ({renamed})" if renamed else "*"
    with _reading(path, limits, provider) as source, _connect(limits) as connection:
        query = (
            f"SELECT DISTINCT {_quote(column)} AS cell FROM (SELECT {star} FROM {source}) "
            f"WHERE {where}"
        )
        frame = _guard(lambda: connection.sql(query).df(), path, provider)
    return frame["cell"]


def _clean(column: str, types: Mapping[str, str], strip_commas: bool) -> str:
    if types.get(column, "VARCHAR") != "VARCHAR":
        return _quote(column)  # a Parquet number is cast as it is, not through its text
    text = f"trim({_quote(column)})"
    return f"replace({text}, ',', '')" if strip_commas else text


@contextmanager
def _reading(path: Path, limits: ReadLimits, provider: str) -> Iterator[str]:
    """The engine's source for ``path``; a plain CSV whose last line is still being written is
    read without that line (a copy of the complete lines), so a torn row is never summed."""
    complete = None if is_parquet(path) else complete_length(path)
    if not complete:  # ends with a newline, or its only line is the header
        yield _guard(lambda: _source(path, limits), path, provider)
        return
    with tempfile.TemporaryDirectory(dir=limits.spill_dir) as folder:
        copy = Path(folder, path.name)
        with path.open("rb") as source, copy.open("wb") as target:
            left = complete
            while left > 0 and (chunk := source.read(min(_CHUNK, left))):
                target.write(chunk)
                left -= len(chunk)
        yield _guard(lambda: _source(copy, limits), path, provider)


def _header(path: Path) -> list[str]:
    """The first line of a CSV, read here: the engine's sniffer may take a data row for it."""
    opener = gzip.open if _is_gzip(path) else open
    try:
        with opener(path, "rt", encoding="utf-8-sig", newline="") as stream:
            first = stream.readline(1 << 20)
    except (UnicodeDecodeError, gzip.BadGzipFile, EOFError, OSError) as error:
        raise ValueError(str(error)) from None
    names = next(csv.reader([first]), [])
    if not names or not first.strip():
        raise ValueError("no header line: the file is empty")
    return names


def _source(path: Path, limits: ReadLimits) -> str:
    text = str(path).replace("'", "''")
    if is_parquet(path):
        return f"read_parquet('{text}', file_row_number = true)"
    columns = ", ".join(f"{_literal(name)}: 'VARCHAR'" for name in _header(path))
    # Every cell as text, as written: the provider decides what a date or a number is.
    return (
        f"read_csv('{text}', header = true, columns = {{{columns}}}, auto_detect = false, "
        "delim = ',', quote = '\"', escape = '\"', compression = 'auto', "
        f"max_line_size = {limits.max_field_bytes}, null_padding = false, strict_mode = true)"
    )


def literal(text: str) -> str:
    """``text`` as an SQL string literal."""
    return "'" + text.replace("'", "''") + "'"


_literal = literal


class _connect:
    """A connection with the limits applied, closed when the read ends."""

    def __init__(self, limits: ReadLimits):
        import duckdb

        self._connection = duckdb.connect(
            config={
                "memory_limit": f"{limits.memory_bytes}B",
                "threads": 2,
                "preserve_insertion_order": True,
                **({"temp_directory": limits.spill_dir} if limits.spill_dir else {}),
            }
        )

    def __enter__(self) -> Any:
        return self._connection

    def __exit__(self, *_: object) -> None:
        self._connection.close()


def _guard(action: Callable[[], T], path: Path, provider: str) -> T:
    """Run ``action``; the engine's errors become one line naming the provider and the file."""
    import duckdb

    try:
        return action()
    except (duckdb.Error, OSError, ValueError) as error:
        lines = [line.strip() for line in str(error).splitlines() if line.strip()]
        # The engine's first lines say what and where; the rest repeats its options.
        kept = [line for line in lines if not line.startswith(("LINE ", "Possible ", "*"))]
        reason = ": ".join(kept[:2]) or type(error).__name__
        if "Maximum line size" in str(error):
            reason = f"a line is longer than max_field_bytes: {reason}"
        raise ProviderError(f"provider {provider}: cannot read {path}: {reason}") from None
