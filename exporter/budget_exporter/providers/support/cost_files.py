"""The skeleton every cost-file provider shares: find the files, parse each once, check rows.

A provider of this kind (``focus``, ``csv``) declares ``paths`` and says how one file becomes
start, end, cost and currency columns; the checks of each row and the normalized result are
the same for all of them, so a bad row reads the same whatever the format.
"""

from __future__ import annotations

from abc import abstractmethod
from datetime import datetime
from pathlib import Path
from typing import TypeVar

import pandas as pd
from pydantic import Field

from ...model.bad_rows import BadRows
from ...model.costs import CostData, normalize
from ...model.fields import TextList
from ..base import CostProvider, ProviderConfig, ProviderContext
from .files import FileCache, ParsedFile, collect_bad_rows, expand_paths, read_cost_files


class CostFileConfig(ProviderConfig):
    """Settings of a provider that reads cost files: globs relative to the config file."""

    paths: TextList = Field(min_length=1)


FileConfigT = TypeVar("FileConfigT", bound=CostFileConfig)


class CostFileProvider(CostProvider[FileConfigT]):
    """Reads the files matching ``paths``; each is parsed again only when it changes."""

    def __init__(self, name: str, config: ProviderConfig, context: ProviderContext):
        super().__init__(name, config, context)
        self._cache: FileCache[ParsedFile] = FileCache()

    def fetch(self, now: datetime) -> CostData:
        paths = expand_paths(self.settings.paths, self.context.base_dir, self.name)
        return read_cost_files(paths, self._cache, self.parse_file)

    @abstractmethod
    def parse_file(self, path: Path) -> ParsedFile:
        """One file's normalized frame, its bad rows and the end of its newest data.

        Raises ProviderError naming the file when it is not of the provider's format.
        """


def row_problems(
    path: Path,
    first_line: int,
    *,
    start: pd.Series,
    cost: pd.Series,
    absurd: pd.Series,
    currency: pd.Series,
    date_problem: str,
    cost_column: str,
    currency_problem: str,
) -> BadRows:
    """The rows without a usable time, cost or currency, each with the reason it was dropped.

    ``cost`` holds NaN where the cell was not a number or was absurd (``absurd`` tells which).
    """
    dated = start.notna()
    checks = (
        (start.isna(), date_problem),
        (dated & cost.isna() & ~absurd, f"{cost_column} is not a number"),
        (dated & absurd, f"{cost_column} is infinite or beyond ±1e12"),
        (dated & cost.notna() & currency.isna(), currency_problem),
    )
    bad = BadRows()
    for mask, reason in checks:
        bad = bad + collect_bad_rows(mask, reason, path, first_line)
    return bad


def file_result(frame: pd.DataFrame, bad: BadRows) -> ParsedFile:
    """The normalized rows of ``frame`` with start, end, cost and currency, and the newest end."""
    valid = frame["start"].notna() & frame["end"].notna() & frame["cost"].notna()
    valid &= frame["currency"].notna()
    newest = frame["end"][valid].max() if valid.any() else None
    return normalize(frame[valid].reset_index(drop=True)), bad, newest
