"""The columnar reader gives the same exposition as the pandas reader it replaced.

The recorded expositions come from the reader before the engine (see ``parity_cases``); the
row count differs by design (only the dimensions budgets use are kept) and is left out. Sums
are added in another order once fewer rows remain, so values agree to 1e-9 relative, not to
the last bit (forecasts to 1e-6: the model's optimizer turns a last-bit change of its history
into a few parts in a billion); every series, label and count is the same.
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
    actual = [f"# exit {code}", *stable_lines(text)]
    assert [series(line) for line in actual] == [series(line) for line in expected]
    for got, want in zip(actual, expected, strict=True):
        if got != want:
            rel = 1e-6 if "forecast" in want else 1e-9
            assert float(got.rsplit(" ", 1)[1]) == pytest.approx(
                float(want.rsplit(" ", 1)[1]), rel=rel, abs=1e-12
            ), want


def series(line: str) -> str:
    """A line without its value: comments whole, samples by name and labels."""
    return line if line.startswith("#") else line.rsplit(" ", 1)[0]
