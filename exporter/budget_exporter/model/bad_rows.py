"""Rows a provider could not read: how many, and the first few with file, line and reason."""

from __future__ import annotations

from dataclasses import dataclass

MAX_BAD_ROW_EXAMPLES = 20


@dataclass(frozen=True)
class BadRow:
    """A row that could not be read, with where it is and why."""

    source: str
    line: int
    reason: str

    def __str__(self) -> str:
        return f"{self.source}:{self.line}: {self.reason}"


@dataclass(frozen=True)
class BadRows:
    """How many rows were rejected, with the first few as examples."""

    count: int = 0
    examples: tuple[BadRow, ...] = ()

    def __add__(self, other: BadRows) -> BadRows:
        room = MAX_BAD_ROW_EXAMPLES - len(self.examples)
        return BadRows(self.count + other.count, self.examples + other.examples[:room])
