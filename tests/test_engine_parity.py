"""The columnar reader gives the same exposition as the pandas reader it replaced.

The recorded expositions come from the reader before the engine (see ``parity_cases``); the
row count differs by design (only the dimensions budgets use are kept) and is left out.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from parity_cases import CASES, GOLDEN, run_once, stable_lines


@pytest.mark.parametrize("name", sorted(CASES))
def test_the_exposition_of_each_provider_fixture_is_unchanged(tmp_path: Path, name: str) -> None:
    make, at = CASES[name]
    code, text = run_once(make(tmp_path), at)
    expected = (GOLDEN / f"{name}.prom").read_text(encoding="utf-8").splitlines()
    assert [f"# exit {code}", *stable_lines(text)] == expected
