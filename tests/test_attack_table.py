"""The table of the attack suite in docs/reliability.md is what the registered cases render, and
the suite replays every item of the issue it came from."""

from __future__ import annotations

import attacks

ISSUE_ITEMS = set(range(1, 17))


def test_the_reliability_page_shows_the_table_the_registered_attacks_render() -> None:
    committed = attacks.committed_table(attacks.PAGE.read_text(encoding="utf-8"))
    assert committed is not None, "docs/reliability.md lost its attacks markers"
    assert committed == attacks.render(attacks.collect()), (
        "docs/reliability.md's attack table is stale: python tests/attacks.py --write"
    )


def test_every_item_of_the_attack_is_replayed_by_a_registered_case() -> None:
    found = {a.found for a in attacks.collect() if isinstance(a.found, int)}
    assert found == ISSUE_ITEMS, f"not replayed: {sorted(ISSUE_ITEMS - found)}"


def test_the_table_counts_each_input_once_by_category() -> None:
    table = attacks.render(
        [
            attacks.Attack("HTTP", "a", "ok", "test_x"),
            attacks.Attack("HTTP", "b", "ok", "test_x", found=14),
            attacks.Attack("fuzzing", "c", "read", "test_y", count=25),
        ]
    )
    assert "| HTTP | 2 | 1 | 1 | 14 | `test_x` |" in table
    assert "| fuzzing | 25 | 25 | 0 | - | `test_y` |" in table
    assert "| **all** | **27** | 26 | 1 | | |" in table
    assert "| HTTP | a | ok | - |" in table
    assert "| HTTP | b | ok | item 14 |" in table
