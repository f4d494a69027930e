"""Exception types shared by configuration and providers."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ConfigProblem:
    """One thing wrong with a configuration file, and where."""

    file: str
    path: str
    message: str
    line: int | None = None

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.path or '<top level>'}: {self.message}"


class ConfigError(Exception):
    """A configuration file that cannot be used; carries every problem found in it."""

    def __init__(self, problems: list[ConfigProblem]):
        self.problems = problems
        super().__init__("\n".join(str(problem) for problem in problems))


class ProviderError(Exception):
    """A provider could not deliver data; the message names the provider and what to fix."""
